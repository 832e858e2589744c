"""The labelling tools' output formats, for `tag --format` and `annotate --export`, each written from
OutText items (tagged.py) by the module of its tool.

- Stream formats are text written item by item to an open handle (so `tag` writes each block as it
  is done): prodigy and doccano are JSONL; label-studio is one JSON array (its import takes JSON),
  one task per line, closed by `]` when the writer is closed.
- File formats are whole files that cannot be appended to: spacy (a DocBin) and hf (a saved dataset
  folder, or a .parquet file). Their items are held in memory and written atomically at close.

Every writer counts the spans it could not write as they are (`lost`, with `lost_reason`).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TextIO

from el4ner_local.formats.jsonl import dumps_record
from el4ner_local.formats.tagged import OutText

STREAM_FORMATS = ("prodigy", "doccano", "label-studio")
FILE_FORMATS = ("spacy", "hf")
TOOL_FORMATS = STREAM_FORMATS + FILE_FORMATS


class StreamWriter:
    def __init__(self, fmt: str, handle: TextIO):
        from el4ner_local.formats import doccano, label_studio, prodigy

        self.fmt, self.handle = fmt, handle
        self.lost = 0
        # only Prodigy's tokens can miss a span; doccano and Label Studio keep character offsets alone
        self.lost_reason = (
            "written without token_start/token_end: they begin or end in whitespace" if fmt == "prodigy" else ""
        )
        self.count = 0
        self._make = {"prodigy": prodigy.task, "doccano": doccano.record, "label-studio": label_studio.task}[fmt]

    def write(self, item: OutText) -> None:
        made = self._make(item)
        if self.fmt == "prodigy":
            made, lost = made
            self.lost += lost
        line = dumps_record(made)
        if self.fmt == "label-studio":
            line = ("[\n" if not self.count else ",\n") + line
        else:
            line += "\n"
        self.handle.write(line)
        self.count += 1

    def close(self) -> None:
        """Ends the JSON array of label-studio (the handle itself stays open: its owner closes it)."""
        if self.fmt == "label-studio":
            self.handle.write("\n]\n" if self.count else "[]\n")


def file_writer(fmt: str, path: Path, mode: int):
    """The writer of a whole-file format, writing `path` (with file mode `mode`) when closed."""
    if fmt == "spacy":
        from el4ner_local.formats.spacy_docbin import DocBinWriter

        return DocBinWriter(path, mode)
    if fmt == "hf":
        from el4ner_local.formats.hf_datasets import DatasetWriter

        return DatasetWriter(path, mode)
    raise ValueError(f"not a file format: {fmt}")


def write_all(items: list[OutText], fmt: str, path: Path, mode: int) -> tuple[int, str]:
    """Write `items` to `path` in `fmt` at once, atomically (annotate --export). Returns (spans not
    written as they are, why)."""
    if fmt in FILE_FORMATS:
        writer = file_writer(fmt, path, mode)
        for item in items:
            writer.write(item)
        writer.close()
        return writer.lost, writer.lost_reason
    from el4ner_local.durable import atomic_write

    buffer = io.StringIO()
    writer = StreamWriter(fmt, buffer)
    for item in items:
        writer.write(item)
    writer.close()
    atomic_write(Path(path), buffer.getvalue().encode("utf-8"), mode)
    return writer.lost, writer.lost_reason
