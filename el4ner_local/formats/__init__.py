"""Readers and writers for labelled corpora (CoNLL, JSONL, and the labelling tools' formats: spaCy,
Prodigy, doccano, Label Studio, Hugging Face datasets) and plain input text."""

from __future__ import annotations

import json
from pathlib import Path

from el4ner_local.documents import LabelledSentence
from el4ner_local.errors import UserError
from el4ner_local.formats.conll import detect_scheme, labels_of, read_conll, write_conll
from el4ner_local.formats.jsonl import dumps_record, read_jsonl, record_of
from el4ner_local.formats.text import read_text, read_utf8

__all__ = [
    "INPUT_FORMATS",
    "detect_format",
    "detect_scheme",
    "dumps_record",
    "labels_of",
    "read_conll",
    "read_jsonl",
    "read_labelled",
    "read_text",
    "read_utf8",
    "record_of",
    "write_conll",
]

# what a labelled pool can be (`--input-format`); "jsonl" is el4ner-local's own labelled JSONL
INPUT_FORMATS = ("conll", "jsonl", "prodigy", "doccano", "spacy", "hf")


def read_labelled(path: str | Path, fmt: str | None = None) -> list[LabelledSentence]:
    """Gold sentences from a labelled file (or a saved Hugging Face dataset folder), in format `fmt`
    (one of INPUT_FORMATS), or the format detect_format finds."""
    path = Path(path)
    fmt = fmt or detect_format(path)
    if fmt == "conll":
        return read_conll(path)
    if fmt == "jsonl":
        return read_jsonl(path)
    if fmt == "prodigy":
        from el4ner_local.formats.prodigy import read_prodigy

        return read_prodigy(path)
    if fmt == "doccano":
        from el4ner_local.formats.doccano import read_doccano

        return read_doccano(path)
    if fmt == "spacy":
        from el4ner_local.formats.spacy_docbin import read_docbin

        return read_docbin(path)
    if fmt == "hf":
        from el4ner_local.formats.hf_datasets import read_hf

        return read_hf(path)
    raise UserError(f"unknown input format {fmt!r}", fix=f"use one of {', '.join(INPUT_FORMATS)}")


def detect_format(path: Path) -> str:
    """The format of a labelled file, by its name, then its content:

    - a folder written by Dataset.save_to_disk, or a `.parquet` file: hf; a `.spacy` file: spacy
    - `.jsonl`/`.json`, or a file whose first non-blank line is a JSON object: JSONL, told apart by
      the keys of its records (the first that says): "label"/"labels", or "entities" given as
      [start, end, label] or with "start_offset", is doccano's; other "entities" are ours (the
      annotator's records also hold "spans"); "spans" without "entities" is Prodigy's
    - anything else: CoNLL
    """
    from el4ner_local.formats.hf_datasets import is_dataset_folder

    suffix = path.suffix.lower()
    if is_dataset_folder(path) or suffix == ".parquet":
        return "hf"
    if suffix == ".spacy":
        return "spacy"
    lines = [line.strip() for line in read_utf8(path).split("\n") if line.strip()]
    first = lines[0] if lines else ""
    if suffix in {".jsonl", ".json"} or (first.startswith("{") and first.endswith("}")):
        return _jsonl_kind(lines)  # (a CoNLL line never ends with a brace-only tag)
    return "conll"


def _jsonl_kind(lines: list[str]) -> str:
    from el4ner_local.formats.doccano import is_doccano

    for line in lines:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            return "jsonl"  # the reader says what is wrong with it
        if not isinstance(obj, dict):
            return "jsonl"
        if is_doccano(obj):
            return "doccano"
        if "entities" in obj:  # ours (the annotator's records also hold "spans"), or doccano's if all empty
            if obj["entities"]:
                return "jsonl"
            continue
        if "spans" in obj:
            return "prodigy"
    return "jsonl"
