"""Hugging Face datasets (the `hf` extra): a folder written by `Dataset.save_to_disk` (a DatasetDict's
folder of one split, or one split's folder) or a `.parquet` file, with a `tokens` column (lists of
strings) and a `ner_tags` column (lists of ClassLabel ids whose names are BIO tags, as in conll2003 or
WikiANN; IOB1 and BIOES names are read too; lists of tag strings also do).

Tokenisation, reading: a sentence's text is its tokens joined by single spaces, as for CoNLL, and
offsets index that text; when the dataset also has a `text` column that holds the tokens in order with
only whitespace between them (what el4ner-local writes), that text is kept instead, so offsets into
it stay exact.

Writing: one row per text with `tokens`, `ner_tags` (ClassLabel names "O", then "B-x", "I-x" for each
label in sorted order), the `text`, its `spans` as character offsets, and where the text comes from.
The tokens are the given ones (tag: el4ner-local's tokenizer, documents.tokenize; an export: the
sentence's). A span that does not start and end on token boundaries, or overlaps another, cannot be
tagged: it is left out of `ner_tags` (still in `spans`) and counted, so the caller can say so. A
dataset is written whole: the rows are held in memory and saved when the writer is closed, into a
fresh folder that then replaces the old one (or as one parquet file, for a `.parquet` path).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

from el4ner_local.documents import LabelledSentence, Span
from el4ner_local.errors import UserError
from el4ner_local.formats.conll import decode_tags, is_tag, labelled_sentence
from el4ner_local.formats.optional import require
from el4ner_local.formats.tagged import OutText
from el4ner_local.formats.tokens import aligned_bio

_FIX = (
    "give a folder written by Dataset.save_to_disk (or a .parquet file) with a 'tokens' column and a "
    "'ner_tags' column of ClassLabel ids named by BIO tags"
)
_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")


def is_dataset_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in _MARKERS)


def read_hf(path: str | Path) -> list[LabelledSentence]:
    """Every row of a saved dataset (folder or .parquet) as a sentence with its spans. UserError
    naming the file, the row and the fix for anything unreadable."""
    path = Path(path)
    dataset = _load(path)
    names = _tag_names(path, dataset.features)
    columns = dataset.column_names
    has_text = "text" in columns
    out = []
    for row_number, row in enumerate(dataset, 1):
        where = f"{path}: row {row_number}"
        tokens, ids = row["tokens"], row["ner_tags"]
        if not (isinstance(tokens, list) and all(isinstance(t, str) for t in tokens)):
            raise UserError(f"{where}: 'tokens' is not a list of strings", fix=_FIX)
        if not isinstance(ids, list) or len(ids) != len(tokens):
            raise UserError(
                f"{where}: {len(tokens)} tokens but {len(ids) if isinstance(ids, list) else 'no'} ner_tags",
                fix="give one tag per token",
            )
        tags = [_tag(names, value, where) for value in ids]
        sentence = (
            _in_text(row["text"], tokens, tags, where, row.get("spans"))
            if has_text and isinstance(row["text"], str)
            else None
        )
        if sentence is None:
            sentence = labelled_sentence(tokens, tags, where)
        if sentence is not None:
            out.append(sentence)
    if not out:
        raise UserError(f"{path}: the dataset holds no sentences", fix=_FIX)
    return out


def _load(path: Path):
    datasets = require("datasets", f"reading {path} (a Hugging Face dataset)")
    if path.suffix.lower() == ".parquet" and path.is_file():
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ...
            raise UserError(
                f"{path}: not a readable parquet file ({str(exc).splitlines()[0][:120]})", fix=_FIX
            ) from None
        dataset = datasets.Dataset(table)  # features (ClassLabel names) from the file's metadata
    elif is_dataset_folder(path):
        try:
            dataset = datasets.load_from_disk(str(path))
        except Exception as exc:  # noqa: BLE001 - datasets raises FileNotFoundError, ValueError, JSON errors, ...
            raise UserError(
                f"{path}: not a readable saved dataset ({str(exc).splitlines()[0][:120]})", fix=_FIX
            ) from None
        if isinstance(dataset, datasets.DatasetDict):
            if len(dataset) != 1:
                raise UserError(
                    f"{path}: a DatasetDict of {len(dataset)} splits ({', '.join(dataset)})",
                    fix=f"name one split's folder, e.g. {path / next(iter(dataset))}",
                )
            dataset = next(iter(dataset.values()))
    elif path.exists():
        raise UserError(f"{path}: not a saved Hugging Face dataset (no {' or '.join(_MARKERS)})", fix=_FIX)
    else:
        raise UserError(f"{path}: no such file or folder", fix="check the path")
    missing = [c for c in ("tokens", "ner_tags") if c not in dataset.column_names]
    if missing:
        raise UserError(
            f"{path}: no {' and no '.join(repr(c) for c in missing)} column "
            f"(columns: {', '.join(dataset.column_names)})",
            fix=_FIX,
        )
    return dataset


def _tag_names(path: Path, features) -> list[str] | None:
    """The BIO names of the ner_tags ids, or None when the column holds tag strings."""
    feature = getattr(features["ner_tags"], "feature", None)
    names = getattr(feature, "names", None)
    if names is None:
        if getattr(feature, "dtype", None) == "string":
            return None
        raise UserError(
            f"{path}: 'ner_tags' holds ids without ClassLabel names, so their tags are unknown",
            fix="cast the column to Sequence(ClassLabel(names=[...])) before saving, or store tag strings",
        )
    bad = [n for n in names if not is_tag(n)]
    if bad:
        raise UserError(
            f"{path}: ClassLabel name {bad[0]!r} of 'ner_tags' is not a NER tag",
            fix="name the classes O, B-TYPE, I-TYPE (IOB2), or with E-/S- (BIOES)",
        )
    return list(names)


def _tag(names: list[str] | None, value, where: str) -> str:
    if names is None:
        if not (isinstance(value, str) and is_tag(value)):
            raise UserError(f"{where}: {value!r} is not a NER tag", fix="use O, B-TYPE, I-TYPE")
        return value
    if not (isinstance(value, int) and 0 <= value < len(names)):
        raise UserError(f"{where}: tag id {value!r} is not one of the {len(names)} ClassLabel ids", fix=_FIX)
    return names[value]


def _in_text(
    text: str, tokens: list[str], tags: list[str], where: str, char_spans: object = None
) -> LabelledSentence | None:
    """The sentence with offsets into `text`, if the tokens are found there in order with only
    whitespace around them; else None (the tokens are then joined by spaces). Character `spans`
    (what el4ner-local writes beside the tags) win over the tags when they are valid: they also hold
    the spans that do not fall on token boundaries, which the tags could not."""
    offsets, pos = [], 0
    for token in tokens:
        start = text.find(token, pos) if token else -1
        if start < 0 or text[pos:start].strip():
            return None
        offsets.append((start, start + len(token)))
        pos = start + len(token)
    if text[pos:].strip() or not offsets:
        return None
    spans = _char_spans(char_spans, len(text))
    if spans is None:
        spans = [Span(offsets[first][0], offsets[last][1], label) for first, last, label in decode_tags(tags)]
    return LabelledSentence(text=text, tokens=offsets, spans=spans, source=where)


def _char_spans(value: object, length: int) -> list[Span] | None:
    """A `spans` column's list of {start, end, label} as Spans, or None where it is absent or not valid."""
    if not isinstance(value, list):
        return None
    spans = []
    for item in value:
        if not isinstance(item, dict):
            return None
        start, end, label = item.get("start"), item.get("end"), item.get("label")
        if not (
            isinstance(start, int) and isinstance(end, int) and isinstance(label, str) and 0 <= start < end <= length
        ):
            return None
        spans.append(Span(start, end, label))
    return spans


def class_names(labels) -> list[str]:
    return ["O"] + [f"{prefix}-{label}" for label in sorted(set(labels)) for prefix in ("B", "I")]


class DatasetWriter:
    """Collects one row per text; `close()` saves the dataset to `path` (a folder, or a .parquet file)."""

    lost_reason = "left out of ner_tags (kept in spans): not on token boundaries, or overlapping another span"

    def __init__(self, path: Path, mode: int):
        require("datasets", f"writing {path} (a Hugging Face dataset)")
        self.path, self.mode = Path(path), mode
        self.rows: list[dict] = []
        self.lost = 0
        self._check_target()  # before any work is done for it

    def _check_target(self) -> None:
        path = self.path
        if path.suffix.lower() == ".parquet":
            if path.is_dir():
                raise UserError(f"{path}: is a directory", fix="name a .parquet file, or a folder without the suffix")
        elif path.exists() and not is_dataset_folder(path) and not (path.is_dir() and not any(path.iterdir())):
            what = "a folder" if path.is_dir() else "a file"
            raise UserError(
                f"{path}: is {what}, not a saved dataset, so it is not replaced",
                fix="name a new folder (or an old dataset folder) for the Hugging Face dataset",
            )

    def write(self, item: OutText) -> None:
        tokens = item.token_offsets()
        tags, lost = aligned_bio(tokens, [s.span for s in item.spans])
        self.lost += lost
        self.rows.append(
            {
                "tokens": [item.text[a:b] for a, b in tokens],
                "tags": tags,
                "text": item.text,
                "spans": [
                    {"start": s.start, "end": s.end, "label": s.label}
                    for s in sorted(item.spans, key=lambda s: (s.start, s.end, s.label))
                ],
                **{k: v for k, v in item.meta.items() if k not in ("tokens", "ner_tags", "text", "spans")},
            }
        )

    def dataset(self):
        from datasets import ClassLabel, Dataset, Features, Sequence, Value

        names = class_names(tag[2:] for row in self.rows for tag in row["tags"] if tag != "O")
        ids = {name: i for i, name in enumerate(names)}
        columns = {
            "tokens": [r["tokens"] for r in self.rows],
            "ner_tags": [[ids[t] for t in r["tags"]] for r in self.rows],
            "text": [r["text"] for r in self.rows],
            "spans": [r["spans"] for r in self.rows],
        }
        features = {
            "tokens": Sequence(Value("string")),
            "ner_tags": Sequence(ClassLabel(names=names)),
            "text": Value("string"),
            "spans": [{"start": Value("int64"), "end": Value("int64"), "label": Value("string")}],
        }
        for key in dict.fromkeys(k for r in self.rows for k in r if k not in ("tokens", "tags", "text", "spans")):
            values = [r.get(key) for r in self.rows]
            columns[key] = values
            whole = all(type(v) is int for v in values)
            features[key] = Value("int64") if whole else Value("string")
            if not whole:
                columns[key] = [None if v is None else str(v) for v in values]
        return Dataset.from_dict(columns, features=Features(features))

    def close(self) -> None:
        import datasets

        if not self.rows:  # datasets saves a dataset of no rows but cannot load it again
            raise UserError(
                f"{self.path}: no texts to write, and a dataset of none cannot be loaded",
                fix="tag or accept some text first",
            )

        was_disabled = datasets.are_progress_bars_disabled()
        datasets.disable_progress_bars()  # the caller says what was written
        try:
            dataset = self.dataset()
            if self.path.suffix.lower() == ".parquet":
                self._save_parquet(dataset)
            else:
                self._save_folder(dataset)
        finally:
            if not was_disabled:
                datasets.enable_progress_bars()

    def _save_parquet(self, dataset) -> None:
        """Write in a private (0700) folder beside `path`, then move the file into place with its mode:
        no one else can read a temporary copy, even one a SIGKILL leaves behind."""
        from el4ner_local.durable import fsync_dir, fsync_file, kept_narrow

        work = Path(tempfile.mkdtemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"))
        try:
            tmp = work / self.path.name
            dataset.to_parquet(str(tmp))
            os.chmod(tmp, kept_narrow(self.path, self.mode))
            fsync_file(tmp)
            os.replace(tmp, self.path)
            fsync_dir(self.path.parent)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _save_folder(self, dataset) -> None:
        """Save into a private (0700) folder beside `path`, then put the dataset in place of the old one
        (if any); the old one goes into the private folder and is removed with it."""
        from el4ner_local.durable import fsync_dir

        path = self.path
        self._check_target()  # (again: it may have changed while the texts were tagged)
        work = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new"))
        try:
            tmp, old = work / "new", work / "old"
            dataset.save_to_disk(str(tmp))
            _set_modes(tmp, self.mode)
            if path.exists():
                os.replace(path, old)
            os.replace(tmp, path)
            fsync_dir(path.parent)
        finally:
            shutil.rmtree(work, ignore_errors=True)


def _set_modes(folder: Path, mode: int) -> None:
    """The folder's files get `mode`; the folder gets it too, with x wherever r is (to list it)."""
    for name in os.listdir(folder):
        with contextlib.suppress(OSError):
            os.chmod(folder / name, mode)
    with contextlib.suppress(OSError):
        os.chmod(folder, mode | ((mode & 0o444) >> 2))
