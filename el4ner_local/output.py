"""What `tag` prints: JSONL (text, entities, votes), CoNLL (token, BIO tag) or a coloured table."""

from __future__ import annotations

from typing import TextIO

from . import formats
from .documents import Document, Sentence, Span, tokenize
from .formats import dumps_record
from .pipeline.records import TaggedDocument

FORMATS = ("jsonl", "conll", "table")
_COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta", "bright_green"]


def write_jsonl(doc: TaggedDocument, out: TextIO) -> None:
    out.write(dumps_record(doc.to_json()) + "\n")


def write_conll(doc: TaggedDocument, out: TextIO) -> None:
    """The document's own sentences and tokens, tagged with its accepted entities."""
    spans = [Span(e.start, e.end, e.label) for e in doc.entities]
    sentences = [Sentence(s.start, s.end, tokenize(doc.text[s.start : s.end], s.start),
                          spans=[x for x in spans if x.start >= s.start and x.end <= s.end]) for s in doc.sentences]
    out.write(f"-DOCSTART- O\t# {doc.name}\n\n" if doc.name else "")
    formats.write_conll([Document(doc.text, sentences, doc.name)], out)


def write_table(doc: TaggedDocument, console) -> None:
    from rich.table import Table
    from rich.text import Text

    labels = sorted({e.label for e in doc.entities})
    colour = {label: _COLOURS[i % len(_COLOURS)] for i, label in enumerate(labels)}
    shown = Text(doc.text)
    for e in doc.entities:
        shown.stylize(f"bold {colour[e.label]}", e.start, e.end)
    console.print(Text(f"{doc.name or '<stdin>'}: {len(doc.entities)} entities, {len(doc.sentences)} sentences", style="bold"))
    console.print(shown)
    table = Table("start", "end", "text", "label", "confidence", "extracted by")
    cands = {(c.start, c.end): c for s in doc.sentences for c in s.candidates}
    for e in doc.entities:
        table.add_row(str(e.start), str(e.end), e.text, Text(e.label, style=colour[e.label]), f"{e.confidence:.2f}",
                      ", ".join(cands[(e.start, e.end)].extracted_by))
    console.print(table)
