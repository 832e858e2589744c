"""What `tag` prints: JSONL (text, entities, votes), CoNLL (token, BIO tag) or a coloured table."""

from __future__ import annotations

import json
from typing import TextIO

from .documents import Span, bio_tags
from .pipeline.records import TaggedDocument

FORMATS = ("jsonl", "conll", "table")
_COLOURS = ["cyan", "magenta", "green", "yellow", "blue", "red", "bright_cyan", "bright_magenta", "bright_green"]


def write_jsonl(doc: TaggedDocument, out: TextIO) -> None:
    out.write(json.dumps(doc.to_json(), ensure_ascii=False) + "\n")


def write_conll(doc: TaggedDocument, out: TextIO) -> None:
    spans = [Span(e.start, e.end, e.label) for e in doc.entities]
    from .documents import tokenize

    out.write(f"-DOCSTART- O\t# {doc.name}\n\n" if doc.name else "")
    for sent in doc.sentences:
        tokens = tokenize(doc.text[sent.start : sent.end], sent.start)
        inside = [s for s in spans if s.start >= sent.start and s.end <= sent.end]
        for (s, e), tag in zip(tokens, bio_tags(tokens, inside)):
            out.write(f"{doc.text[s:e]}\t{tag}\n")
        out.write("\n")


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
