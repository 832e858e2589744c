"""Readers and writers for labelled corpora (CoNLL, JSONL, and the labelling tools' formats: spaCy,
Prodigy, doccano, Label Studio, Hugging Face datasets) and plain input text."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from el4ner_local.documents import LabelledSentence
from el4ner_local.errors import UserError
from el4ner_local.formats.conll import detect_scheme, labels_of, read_conll, write_conll
from el4ner_local.formats.jsonl import dumps_record, read_jsonl, record_of
from el4ner_local.formats.text import read_text, read_utf8

__all__ = [
    "INPUT_FORMATS",
    "checked_format",
    "detect_format",
    "detect_scheme",
    "dumps_record",
    "labelled_digest",
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
    module, reader = _READERS[checked_format(fmt) or detect_format(path)]
    return getattr(importlib.import_module(f"el4ner_local.formats.{module}"), reader)(path)


# each format's module and reader (a module that needs an extra imports it only when it reads)
_READERS = {
    "conll": ("conll", "read_conll"),
    "jsonl": ("jsonl", "read_jsonl"),
    "prodigy": ("prodigy", "read_prodigy"),
    "doccano": ("doccano", "read_doccano"),
    "spacy": ("spacy_docbin", "read_docbin"),
    "hf": ("hf_datasets", "read_hf"),
}


def checked_format(fmt: str | None) -> str | None:
    """`fmt` if it is one of INPUT_FORMATS (None: detect), else a UserError listing them."""
    if fmt is not None and fmt not in INPUT_FORMATS:
        raise UserError(f"unknown input format {fmt!r}", fix=f"use one of {', '.join(INPUT_FORMATS)}")
    return fmt


def labelled_digest(path: str | Path, fmt: str | None = None) -> str:
    """A sha256 naming what a pool holds, for the indexes cached per pool: the file's own sha256 (a
    saved dataset folder: of its files' names and sha256s), and the format when one is named that
    differs from the detected one (the same bytes read otherwise are another pool)."""
    import hashlib

    from el4ner_local.checksums import sha256_file

    path = Path(path)
    if path.is_dir():
        h = hashlib.sha256()
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f"{file.relative_to(path).as_posix()}\0{sha256_file(file)}\n".encode())
        digest = h.hexdigest()
    else:
        digest = sha256_file(path)
    if fmt is None or fmt == detect_format(path):
        return digest
    return hashlib.sha256(f"{digest} as {fmt}".encode()).hexdigest()


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
