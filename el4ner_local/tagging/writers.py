"""What `tag` prints: JSONL (text, entities, votes), CoNLL (token, BIO tag) or a coloured table.

`tag` writes one block of an input at a time (blocks.py); `start` is the block's character offset in
the input. Offsets inside a JSONL record index its own "text", as in every labelled JSONL record, so
the input's offset of an entity is start + entity start."""

from __future__ import annotations

from typing import TextIO

from .. import formats
from ..documents import Document, Sentence, Span, tokenize
from ..formats import dumps_record
from ..pipeline.records import TaggedDocument

FORMATS = ("jsonl", "conll", "table")  # tag --format: the CLI's check and help text read this
_COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta", "bright_green"]


def write_jsonl(doc: TaggedDocument, out: TextIO, start: int = 0) -> None:
    record = doc.to_json()
    out.write(dumps_record({"name": record.pop("name"), "start": start, **record}) + "\n")


def write_conll(doc: TaggedDocument, out: TextIO, start: int = 0) -> None:
    """The document's own sentences and tokens, tagged with its accepted entities (a -DOCSTART- line
    before a named input's first block)."""
    spans = [Span(e.start, e.end, e.label) for e in doc.entities]
    sentences = [Sentence(s.start, s.end, tokenize(doc.text[s.start : s.end], s.start),
                          spans=[x for x in spans if x.start >= s.start and x.end <= s.end]) for s in doc.sentences]
    out.write(f"-DOCSTART- O\t# {doc.name}\n\n" if doc.name and not start else "")
    formats.write_conll([Document(doc.text, sentences, doc.name)], out)


def write_table(doc: TaggedDocument, console, start: int = 0) -> None:
    from rich.table import Table
    from rich.text import Text

    labels = sorted({e.label for e in doc.entities})
    colour = {label: _COLOURS[i % len(_COLOURS)] for i, label in enumerate(labels)}
    shown = Text(doc.text)
    for e in doc.entities:
        shown.stylize(f"bold {colour[e.label]}", e.start, e.end)
    where = f" from character {start}" if start else ""
    console.print(Text(f"{doc.name or '<stdin>'}{where}: {len(doc.entities)} entities, {len(doc.sentences)} sentences",
                       style="bold"))
    console.print(shown)
    table = Table("start", "end", "text", "label", "confidence", "extracted by")
    cands = {(c.start, c.end): c for s in doc.sentences for c in s.candidates}
    for e in doc.entities:
        table.add_row(str(e.start), str(e.end), e.text, Text(e.label, style=colour[e.label]), f"{e.confidence:.2f}",
                      ", ".join(cands[(e.start, e.end)].extracted_by))
    console.print(table)
