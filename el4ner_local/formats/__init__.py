"""Readers and writers for labelled corpora (CoNLL, JSONL) and plain input text."""

from __future__ import annotations

from pathlib import Path

from el4ner_local.documents import LabelledSentence
from el4ner_local.formats.conll import detect_scheme, labels_of, read_conll, write_conll
from el4ner_local.formats.jsonl import dumps_record, read_jsonl, record_of
from el4ner_local.formats.text import read_text, read_utf8

__all__ = ["detect_scheme", "dumps_record", "labels_of", "read_conll", "read_jsonl", "read_labelled",
           "read_text", "read_utf8", "record_of", "write_conll"]


def read_labelled(path: str | Path) -> list[LabelledSentence]:
    """Gold sentences from a .jsonl/.json file, or from a CoNLL file (any other name).

    A file of another name whose first non-blank line looks like a JSON object is read as JSONL too.
    """
    path = Path(path)
    if path.suffix.lower() in {".jsonl", ".json"}:
        return read_jsonl(path)
    first = next((line.strip() for line in read_utf8(path).split("\n") if line.strip()), "")
    if first.startswith("{") and first.endswith("}"):  # a CoNLL line never ends with a brace-only tag
        return read_jsonl(path)
    return read_conll(path)
