"""The demonstration index on disk: its files, their manifest, and how they are written crash-safely.

An index is a directory:

    manifest.json   format and version, embedder (name, dim, sha256 of its weights), POS weight
                    settings, hnswlib settings, counts, labels, and the size and sha256 of each file
    spans.bin       hnswlib index of the pool's gold span texts (id = span number in pool order)
    sentences.bin   hnswlib index of the pool's sentence texts (id = line number of pool.jsonl)
    pool.jsonl      the sentences with their gold spans, one JSON object a line
    tuning.json     (after `index tune`) the vote rule the pool chose, per profile, and tuning/ its
                    records: not in the manifest, and keyed on the pool (pipeline/tuned.py)

Writes are crash-safe. New files are written as `NAME.new` (fsync), then the manifest is written
to `manifest.json.tmp` (fsync) and renamed over `manifest.json`: that rename is the commit. Only
then are the `.new` files renamed into place. An add appends to pool.jsonl in place; the manifest
records how many bytes of it are committed, and bytes past that (an interrupted add) are ignored
and cut off by the next add. On load every file must match the size and sha256 the manifest
records; a committed `.new` file whose rename was interrupted is rolled forward. Anything else is
a UserError, never a silently inconsistent index. Writers hold an exclusive lock on the directory,
readers a shared one; every file is private (private_files.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..checksums import sha256_file
from ..documents import LabelledSentence, Span
from ..durable import append_durable, atomic_write, fsync_dir, write_durable
from ..errors import UserError
from ..private_files import PRIVATE_FILE, private_dir
from .hnsw import HnswSettings, load_hnsw, save_hnsw
from .pos_weights import PosWeights

FORMAT = "el4ner-local demonstration index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SPANS = "spans.bin"
SENTENCES = "sentences.bin"
POOL = "pool.jsonl"
NEW = ".new"
TMP = ".tmp"
LOCK = ".lock"
# `index tune` keeps its choice and its records beside the index (pipeline/tuned.py), outside the manifest
TUNING = ("tuning.json", "tuning.json" + TMP, "tuning")
_OUR_FILES = (
    {MANIFEST, SPANS, SENTENCES, POOL, LOCK}
    | {f + NEW for f in (SPANS, SENTENCES, POOL)}
    | {MANIFEST + TMP}
    | set(TUNING)
)
REBUILD = "rebuild it with `el4ner-local index build POOL... -o {path}`"


# ---------------------------------------------------------------------------------------------
# Writing


def check_target_dir(path: Path) -> None:
    """A new index may go to a new directory, an empty one, or over an index (nothing of the user's)."""
    if path.exists() and not path.is_dir():
        raise UserError(f"{path}: exists and is not a directory", fix="choose a new directory for the index")
    if path.is_dir():
        strangers = sorted(p.name for p in path.iterdir() if p.name not in _OUR_FILES)
        if strangers:
            raise UserError(
                f"{path}: directory holds other files ({', '.join(strangers[:3])}), not an index",
                fix="choose a new or empty directory for the index",
            )


def new_manifest(
    embedder: dict,
    pos_weights: PosWeights,
    hnsw: HnswSettings,
    labels: Sequence[str],
    sources: Sequence[str],
    extra: dict | None,
) -> dict:
    """The manifest of a new index; counts and files are filled in by write_index."""
    now = _now()
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "embedder": embedder,
        "pos_weights": pos_weights.to_dict(),
        "hnsw": hnsw.to_dict(),
        "counts": {},
        "labels": [str(lab) for lab in labels],
        "files": {},
        "created": now,
        "updated": now,
        "sources": [str(s) for s in sources],
        **(extra or {}),
    }


def write_index(path: Path, manifest: dict, pool: list[LabelledSentence], span_index, sentence_index) -> None:
    """Write a whole index at `path` (replacing one there) and commit it; fills in `manifest`."""
    private_dir(path, ours_from=path)  # it holds the pool's sentences (only our files: check_target_dir)
    with locked(path, exclusive=True):
        write_durable(path / (POOL + NEW), _encode_all(pool))
        save_hnsw(span_index, path / (SPANS + NEW))
        save_hnsw(sentence_index, path / (SENTENCES + NEW))
        _fill_counts(manifest, pool)
        manifest["files"] = {
            POOL: _file_record(path / (POOL + NEW)),
            SPANS: _file_record(path / (SPANS + NEW)),
            SENTENCES: _file_record(path / (SENTENCES + NEW)),
        }
        _commit(path, manifest, renames=(POOL, SPANS, SENTENCES))


def write_addition(
    path: Path, manifest: dict, pool: list[LabelledSentence], new: list[LabelledSentence], span_index, sentence_index
) -> dict:
    """Commit `new` sentences after `pool`, whose vectors the in-memory indexes already hold
    (`span_index` None when `new` has no span: spans.bin stays). Returns the new manifest. The
    caller holds the exclusive lock."""
    renames = [SENTENCES]
    files = dict(manifest["files"])
    if span_index is not None:
        save_hnsw(span_index, path / (SPANS + NEW))
        files[SPANS] = _file_record(path / (SPANS + NEW))
        renames.append(SPANS)
    save_hnsw(sentence_index, path / (SENTENCES + NEW))
    files[SENTENCES] = _file_record(path / (SENTENCES + NEW))
    pool_path = path / POOL
    # cut off what an interrupted add left, append
    append_durable(pool_path, _encode_all(new), truncate_to=manifest["files"][POOL]["bytes"])
    size = pool_path.stat().st_size
    files[POOL] = {"bytes": size, "sha256": sha256_file(pool_path, size)}
    manifest = dict(manifest)
    manifest["files"] = files
    manifest["updated"] = _now()
    manifest["labels"] = _labels_in_order(new, known=manifest["labels"])
    _fill_counts(manifest, pool + new)
    _commit(path, manifest, renames=renames)
    return manifest


def _commit(path: Path, manifest: dict, renames: Sequence[str]) -> None:
    """Write the manifest (the commit point), then move the committed `.new` files into place."""
    data = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    atomic_write(path / MANIFEST, data, tmp=path / (MANIFEST + TMP))
    _roll_forward(path, renames)


def _roll_forward(path: Path, names: Iterable[str]) -> None:
    for name in names:
        src = path / (name + NEW)
        if src.exists():
            os.replace(src, path / name)
    fsync_dir(path)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _file_record(path: Path) -> dict:
    return {"bytes": path.stat().st_size, "sha256": sha256_file(path)}


def _fill_counts(manifest: dict, pool: list[LabelledSentence]) -> None:
    per_label: dict[str, int] = {}
    for s in pool:
        for sp in s.spans:
            per_label[sp.label] = per_label.get(sp.label, 0) + 1
    manifest["labels"] = _labels_in_order(pool, known=manifest.get("labels", ()))
    manifest["counts"] = {
        "sentences": len(pool),
        "spans": sum(per_label.values()),
        "sentences_without_spans": sum(1 for s in pool if not s.spans),
        "per_label": {lab: per_label.get(lab, 0) for lab in manifest["labels"]},
    }


def _labels_in_order(sentences: Iterable[LabelledSentence], known: Sequence[str] = ()) -> list[str]:
    labels = dict.fromkeys(known)
    for s in sentences:
        for sp in s.spans:
            labels.setdefault(sp.label)
    return list(labels)


# ---------------------------------------------------------------------------------------------
# Reading


def read_manifest(path: Path) -> dict:
    """The committed manifest, checked: format, version, and every field the index needs."""
    fix = REBUILD.format(path=path)
    mpath = path / MANIFEST
    try:
        raw = mpath.read_bytes()
    except FileNotFoundError:
        if any((path / n).exists() for n in (SPANS, SENTENCES, POOL, SPANS + NEW, POOL + NEW)):
            raise UserError(
                f"{mpath}: missing; the index was never completely written (interrupted build?)", fix=fix
            ) from None
        raise UserError(
            f"{path}: not an index directory (no manifest.json)",
            fix="build one with `el4ner-local index build POOL... -o DIR`",
        ) from None
    except OSError as exc:
        raise UserError(f"{mpath}: cannot read ({exc.strerror})", fix="check its permissions") from None
    try:
        m = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UserError(f"{mpath}: corrupt or truncated manifest (not valid JSON)", fix=fix) from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise UserError(f"{mpath}: not an el4ner-local demonstration index manifest", fix=fix)
    if m.get("format_version") != FORMAT_VERSION:
        raise UserError(
            f"{mpath}: index format version {m.get('format_version')!r}, this el4ner-local reads version "
            f"{FORMAT_VERSION}",
            fix=fix,
        )
    try:
        ok = (
            isinstance(m["embedder"]["name"], str)
            and isinstance(m["embedder"]["dim"], int)
            and isinstance(m["embedder"]["weights_sha256"], str)
            and isinstance(m["counts"]["sentences"], int)
            and isinstance(m["counts"]["spans"], int)
            and isinstance(m["labels"], list)
            and all(
                isinstance(m["files"][n]["bytes"], int) and isinstance(m["files"][n]["sha256"], str)
                for n in (POOL, SPANS, SENTENCES)
            )
        )
        PosWeights.from_dict(m["pos_weights"])
        HnswSettings(**m["hnsw"])
    except (KeyError, TypeError, UserError):
        ok = False
    if not ok:
        raise UserError(f"{mpath}: manifest lacks required fields or has invalid values", fix=fix)
    if m["counts"]["sentences"] == 0:
        raise UserError(f"{mpath}: the index's pool is empty", fix=fix)
    return m


def check_embedder(path: Path, manifest: dict, current: dict) -> None:
    """The index's vectors are only comparable with the embedder that made them."""
    built = manifest["embedder"]
    if (
        built["name"] != current["name"]
        or built["weights_sha256"] != current["weights_sha256"]
        or built["dim"] != current["dim"]
    ):
        raise UserError(
            f"{path}: index was built with embedder {built['name']} (weights sha256 {built['weights_sha256'][:12]}...) "
            f"but this installation has {current['name']} ({current['weights_sha256'][:12]}...)",
            fix=REBUILD.format(path=path),
        )


def read_index(path: Path, manifest: dict) -> tuple[list[LabelledSentence], object, object]:
    """(pool, span index, sentence index) as `manifest` commits them, every file checked against it."""
    fix = REBUILD.format(path=path)
    files = {
        name: _resolve_file(path, name, manifest["files"][name], prefix=(name == POOL))
        for name in (POOL, SPANS, SENTENCES)
    }
    pool = _read_pool(files[POOL], manifest["files"][POOL]["bytes"])
    counts = manifest["counts"]
    n_spans = sum(len(s.spans) for s in pool)
    if len(pool) != counts["sentences"] or n_spans != counts["spans"]:
        raise UserError(
            f"{path}: pool.jsonl holds {len(pool)} sentences / {n_spans} spans but the manifest says "
            f"{counts['sentences']} / {counts['spans']}",
            fix=fix,
        )
    dim = manifest["embedder"]["dim"]
    span_index = load_hnsw(files[SPANS], dim, n_spans, fix)
    sentence_index = load_hnsw(files[SENTENCES], dim, len(pool), fix)
    return pool, span_index, sentence_index


def _resolve_file(path: Path, name: str, record: dict, prefix: bool) -> Path:
    """The file (NAME, or a committed NAME.new whose rename was interrupted) that matches the manifest."""
    want_bytes, want_sha = record["bytes"], record["sha256"]
    for candidate in (path / name, path / (name + NEW)):
        try:
            size = candidate.stat().st_size
        except OSError:
            continue
        if size == want_bytes or (prefix and size > want_bytes):
            if sha256_file(candidate, want_bytes if prefix else None) == want_sha:
                if candidate.name.endswith(NEW):
                    try:
                        _roll_forward(path, [name])
                        return path / name
                    except OSError:
                        pass
                return candidate
    present = (path / name).exists()
    problem = (
        "does not match the manifest (size or sha256): interrupted write or corruption" if present else "is missing"
    )
    raise UserError(f"{path / name}: {problem}", fix=REBUILD.format(path=path))


def _read_pool(path: Path, committed: int) -> list[LabelledSentence]:
    with open(path, "rb") as f:
        data = f.read(committed)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [_decode(line, f"{path}:{i + 1}") for i, line in enumerate(lines)]


# ---------------------------------------------------------------------------------------------
# Pool records and the lock


def _encode_all(sentences: Iterable[LabelledSentence]) -> bytes:
    return b"".join(_encode(s) for s in sentences)


def _encode(s: LabelledSentence) -> bytes:
    """Our labelled JSONL record (readable by formats.read_labelled), plus the tokens and the source."""
    from ..formats.jsonl import dumps_record, record_of

    record = record_of(s)
    record["tokens"] = [list(t) for t in s.tokens]
    record["source"] = s.source
    return (dumps_record(record) + "\n").encode("utf-8")


def _decode(line: bytes, where: str) -> LabelledSentence:
    try:
        r = json.loads(line)
        return LabelledSentence(
            text=r["text"],
            tokens=[(int(a), int(b)) for a, b in r["tokens"]],
            spans=[Span(int(e["start"]), int(e["end"]), str(e["label"])) for e in r["entities"]],
            source=str(r.get("source", "")),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(
            f"{where}: corrupt pool record ({exc.__class__.__name__})",
            fix=REBUILD.format(path=Path(where.rsplit(":", 1)[0]).parent),
        ) from None


@contextlib.contextmanager
def locked(directory: Path, exclusive: bool):
    """An advisory lock on the index directory (shared for readers, exclusive for writers)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no locking
        yield
        return
    try:
        fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    except OSError:  # read-only directory: readers go without the lock
        if exclusive:
            raise UserError(f"{directory}: cannot write to the index directory", fix="check its permissions") from None
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock
