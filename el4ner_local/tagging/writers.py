"""What `tag` prints: JSONL (text, entities, votes), CoNLL (token, BIO tag), a coloured table, or a
labelling tool's format (formats/outputs.py: prodigy, doccano, label-studio, spacy, hf; one task, Doc
or row per block, with each entity's confidence and votes where the format has room for them).

`tag` writes one block of an input at a time (blocks.py); `start` is the block's character offset in
the input. Offsets inside a JSONL record index its own "text", as in every labelled JSONL record, so
the input's offset of an entity is start + entity start."""

from __future__ import annotations

from typing import TextIO

from .. import formats
from ..documents import Document, Sentence, Span, tokenize
from ..formats import dumps_record
from ..formats.outputs import FILE_FORMATS, TOOL_FORMATS, StreamWriter, file_writer
from ..formats.tagged import OutSpan, OutText
from ..pipeline.records import TaggedDocument

FORMATS = ("jsonl", "conll", "table", *TOOL_FORMATS)  # tag --format: the CLI's check and help text read this
_COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta", "bright_green"]


def write_jsonl(doc: TaggedDocument, out: TextIO, start: int = 0) -> None:
    record = doc.to_json()
    out.write(dumps_record({"name": record.pop("name"), "start": start, **record}) + "\n")


def write_conll(doc: TaggedDocument, out: TextIO, start: int = 0) -> int:
    """The document's own sentences and tokens (documents.tokenize), tagged with its accepted entities
    (a -DOCSTART- line before a named input's first block). Returns how many entities could not be
    written: not on token boundaries, overlapping another, or across a sentence end."""
    spans = [Span(e.start, e.end, e.label) for e in doc.entities]
    sentences = [
        Sentence(
            s.start,
            s.end,
            tokenize(doc.text[s.start : s.end], s.start),
            spans=[x for x in spans if x.start >= s.start and x.end <= s.end],
        )
        for s in doc.sentences
    ]
    out.write(f"-DOCSTART- O\t# {doc.name}\n\n" if doc.name and not start else "")
    outside = len(spans) - sum(len(s.spans) for s in sentences)
    return outside + formats.write_conll([Document(doc.text, sentences, doc.name)], out)


def out_text(doc: TaggedDocument, start: int = 0) -> OutText:
    """A block's accepted entities, each with its confidence and votes, for a labelling tool's format."""
    chosen = {(c.start, c.end): c for s in doc.sentences for c in s.candidates if c.accepted}
    spans = []
    for e in doc.entities:
        c = chosen[(e.start, e.end)]
        votes = {
            "extracted_by": list(c.extracted_by),
            "type_votes": c.type_votes(),
            "verification": {m: round(v, 4) for m, v in c.verification.items()},
        }
        spans.append(OutSpan(e.start, e.end, e.label, round(e.confidence, 4), votes))
    return OutText(doc.text, spans, {"name": doc.name, "start": start}, predicted=True)


class ToolOutput:
    """`tag`'s output in a labelling tool's format. A stream format is written block by block to the
    sink (the -o file or standard output); a file format (spacy, hf) holds every block in memory and
    writes the -o path whole, atomically, when closed. Closing says how many entities the format
    could not hold as they are (formats/tokens.py)."""

    def __init__(self, fmt: str, output, sink, mode: int):
        self.fmt, self.output, self.sink = fmt, output, sink
        self.writer = file_writer(fmt, output, mode) if fmt in FILE_FORMATS else StreamWriter(fmt, sink)
        self.blocks = 0

    def write(self, doc: TaggedDocument, start: int) -> None:
        self.writer.write(out_text(doc, start))
        self.blocks += 1

    def flush(self) -> None:
        if self.sink is not None:
            self.sink.flush()

    def close(self) -> str | None:
        """Finish the format (write a file format; end label-studio's array), then close the -o file.
        Returns what to say about entities the format could not hold as they are (None: all were).
        A file format with no block (interrupted before the first) is not written."""
        if self.fmt in FILE_FORMATS and not self.blocks:
            return f"{self.output}: no block was tagged, so it is not written"
        try:
            self.writer.close()
            if self.sink is not None:
                self.sink.flush()
        finally:
            if self.output is not None and self.sink is not None:
                self.sink.close()
        if not self.writer.lost:
            return None
        return f"{self.output or '<stdout>'}: {self.writer.lost} entities {self.writer.lost_reason}"


def write_table(doc: TaggedDocument, console, start: int = 0) -> None:
    from rich.table import Table
    from rich.text import Text

    labels = sorted({e.label for e in doc.entities})
    colour = {label: _COLOURS[i % len(_COLOURS)] for i, label in enumerate(labels)}
    shown = Text(doc.text)
    for e in doc.entities:
        shown.stylize(f"bold {colour[e.label]}", e.start, e.end)
    where = f" from character {start}" if start else ""
    console.print(
        Text(
            f"{doc.name or '<stdin>'}{where}: {len(doc.entities)} entities, {len(doc.sentences)} sentences",
            style="bold",
        )
    )
    console.print(shown)
    table = Table("start", "end", "text", "label", "confidence", "extracted by")
    cands = {(c.start, c.end): c for s in doc.sentences for c in s.candidates}
    for e in doc.entities:
        table.add_row(
            str(e.start),
            str(e.end),
            e.text,
            Text(e.label, style=colour[e.label]),
            f"{e.confidence:.2f}",
            ", ".join(cands[(e.start, e.end)].extracted_by),
        )
    console.print(table)
