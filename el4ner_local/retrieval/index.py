"""DemoIndex: a labelled demonstration pool with hnswlib indexes over its span and sentence embeddings.

On disk an index is a directory:

    manifest.json   format and version, embedder (name, dim, sha256 of its weights), POS weight
                    settings, hnswlib settings, counts, labels, and the size and sha256 of each file
    spans.bin       hnswlib index of the pool's gold span texts (id = span number in pool order)
    sentences.bin   hnswlib index of the pool's sentence texts (id = line number of pool.jsonl)
    pool.jsonl      the sentences with their gold spans, one JSON object a line

Writes are crash-safe. New files are written as `NAME.new` (fsync), then the manifest is written
to `manifest.json.tmp` (fsync) and renamed over `manifest.json`: that rename is the commit. Only
then are the `.new` files renamed into place. `add()` appends to pool.jsonl in place; the manifest
records how many bytes of it are committed, and bytes past that (an interrupted add) are ignored
and cut off by the next add. On load every file must match the size and sha256 the manifest
records; a committed `.new` file whose rename was interrupted is rolled forward. Anything else is
a UserError, never a silently inconsistent index.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import random
import time
from pathlib import Path
from typing import Iterable, Sequence

from ..documents import LabelledSentence, Span, tokenize
from ..durable import fsync_dir
from ..errors import UserError
from ..private_files import PRIVATE_FILE, narrow, open_private, private_dir
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
_OUR_FILES = {MANIFEST, SPANS, SENTENCES, POOL, LOCK} | {f + NEW for f in (SPANS, SENTENCES, POOL)} | {MANIFEST + TMP}
MODES = ("span", "sentence", "random")
_REBUILD = "rebuild it with `el4ner-local index build POOL... -o {path}`"


@dataclasses.dataclass(frozen=True)
class HnswSettings:
    M: int = 16
    ef_construction: int = 100
    ef_search: int = 128  # recall@32 of real WNUT-17 span neighbours: 0.976 at 64, 0.988 at 128
    seed: int = 100
    knn_per_span: int = 32  # neighbours fetched for each candidate span

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------
# Files: durable writes, hashes, locking


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _write_durable(path: Path, data: bytes) -> None:
    with open_private(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sha256(path: Path, limit: int | None = None) -> str:
    h = hashlib.sha256()
    left = limit
    with open(path, "rb") as f:
        while left is None or left > 0:
            block = f.read(1 << 20 if left is None else min(1 << 20, left))
            if not block:
                break
            h.update(block)
            if left is not None:
                left -= len(block)
    return h.hexdigest()


@contextlib.contextmanager
def _locked(directory: Path, exclusive: bool):
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
            raise UserError(f"{directory}: cannot write to the index directory", fix="check its permissions")
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# ---------------------------------------------------------------------------------------------
# Pool records


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
        return LabelledSentence(text=r["text"], tokens=[(int(a), int(b)) for a, b in r["tokens"]],
                                spans=[Span(int(e["start"]), int(e["end"]), str(e["label"])) for e in r["entities"]],
                                source=str(r.get("source", "")))
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{where}: corrupt pool record ({exc.__class__.__name__})",
                        fix=_REBUILD.format(path=Path(where.rsplit(":", 1)[0]).parent)) from None


def _validate(sentences: Iterable[LabelledSentence]) -> list[LabelledSentence]:
    """Checked copies, spans sorted and de-duplicated, tokens filled in when missing."""
    out = []
    for i, s in enumerate(sentences):
        where = s.source or f"sentence #{i + 1}"
        if not isinstance(s, LabelledSentence):
            raise TypeError(f"expected LabelledSentence, got {type(s).__name__}")
        if not isinstance(s.text, str) or not s.text.strip():
            raise UserError(f"{where}: empty sentence in the demonstration pool", fix="remove empty sentences from the pool")
        spans = sorted(set(s.spans))
        for sp in spans:
            if not (0 <= sp.start < sp.end <= len(s.text)):
                raise UserError(f"{where}: span {sp.start}-{sp.end} lies outside the sentence ({len(s.text)} characters)",
                                fix="correct the span offsets")
            if not isinstance(sp.label, str) or not sp.label.strip() or "\n" in sp.label:
                raise UserError(f"{where}: span {sp.start}-{sp.end} has an empty or invalid label {sp.label!r}",
                                fix="give every span an entity type")
            if not s.text[sp.start:sp.end].strip():
                raise UserError(f"{where}: span {sp.start}-{sp.end} covers only whitespace", fix="correct the span offsets")
        tokens = list(s.tokens) if s.tokens else tokenize(s.text)
        out.append(LabelledSentence(text=s.text, tokens=[tuple(t) for t in tokens], spans=spans, source=s.source))
    return out


def _copy(s: LabelledSentence) -> LabelledSentence:
    return LabelledSentence(text=s.text, tokens=list(s.tokens), spans=list(s.spans), source=s.source)


def _labels_in_order(sentences: Iterable[LabelledSentence], known: Sequence[str] = ()) -> list[str]:
    labels = dict.fromkeys(known)
    for s in sentences:
        for sp in s.spans:
            labels.setdefault(sp.label)
    return list(labels)


# ---------------------------------------------------------------------------------------------


class DemoIndex:
    """A demonstration pool and its span / sentence indexes. Build or load, then `retrieve`."""

    def __init__(self, path: Path, manifest: dict, pool: list[LabelledSentence], span_index, sentence_index, embedder):
        import numpy as np

        self.path = Path(path)
        self.manifest = manifest
        self.pool = pool
        self._span_index = span_index
        self._sentence_index = sentence_index
        self._embedder = embedder
        self.pos_weights = PosWeights.from_dict(manifest["pos_weights"])
        self.hnsw = HnswSettings(**manifest["hnsw"])
        sizes = np.array([len(s.spans) for s in pool], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)  # sentence j owns spans offsets[j]:offsets[j+1]
        self._span_sentence = np.repeat(np.arange(len(pool), dtype=np.int64), sizes)

    # -- properties -----------------------------------------------------------------------------

    @property
    def labels(self) -> list[str]:
        """The pool's entity types, in order of first appearance (the default schema)."""
        return list(self.manifest["labels"])

    @property
    def n_spans(self) -> int:
        return int(self._offsets[-1])

    def __len__(self) -> int:
        return len(self.pool)

    def __repr__(self) -> str:
        return f"DemoIndex({str(self.path)!r}, sentences={len(self)}, spans={self.n_spans}, labels={self.labels})"

    @property
    def embedder(self):
        if self._embedder is None:
            from .embedder import default_embedder

            self._embedder = default_embedder()
        return self._embedder

    # -- build ----------------------------------------------------------------------------------

    @classmethod
    def build(cls, sentences: Iterable[LabelledSentence], path: str | Path, *, pos_weights: PosWeights | None = None,
              embedder=None, hnsw: HnswSettings | None = None, labels: Sequence[str] = (),
              sources: Sequence[str] = (), extra: dict | None = None, progress=None) -> "DemoIndex":
        """Embed the pool's gold spans and sentences and write a new index at `path` (replacing one there).

        `labels` fixes the order of the schema (types of the pool not named follow in order of first
        appearance). `progress(message)` is called with short status lines, when given. `extra` is stored in
        the manifest (e.g. the sha256 of the pool file the index was built from).
        """
        import numpy as np

        path = Path(path)
        pool = _validate(sentences)
        if not pool:
            raise UserError(f"{path}: the demonstration pool is empty", fix="give a pool file with labelled sentences")
        if not any(s.spans for s in pool):
            raise UserError(f"{path}: the demonstration pool has no labelled entities (all {len(pool)} sentences have only O tags)",
                            fix="give a pool annotated with entity types")
        _check_target_dir(path)
        pos_weights = pos_weights or PosWeights()
        hnsw = hnsw or HnswSettings()
        if embedder is None:
            from .embedder import default_embedder

            embedder = default_embedder()
        ident = embedder.identity()
        say = progress or (lambda msg: None)

        span_texts = [s.text[sp.start:sp.end] for s in pool for sp in s.spans]
        t0 = time.perf_counter()
        say(f"embedding {len(span_texts)} spans and {len(pool)} sentences")
        span_vecs = _as_matrix(embedder.encode(span_texts), ident.dim)
        sent_vecs = _as_matrix(embedder.encode([s.text for s in pool]), ident.dim)
        t1 = time.perf_counter()
        span_index = _new_hnsw(ident.dim, len(span_texts), hnsw)
        span_index.add_items(span_vecs, np.arange(len(span_texts)), num_threads=1)
        sentence_index = _new_hnsw(ident.dim, len(pool), hnsw)
        sentence_index.add_items(sent_vecs, np.arange(len(pool)), num_threads=1)
        t2 = time.perf_counter()
        say(f"embedded in {t1 - t0:.1f} s, indexed in {t2 - t1:.2f} s")

        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "embedder": ident.to_dict(),
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
        private_dir(path, ours_from=path)  # it holds the pool's sentences (only our files: _check_target_dir)
        with _locked(path, exclusive=True):
            pool_bytes = b"".join(_encode(s) for s in pool)
            _write_durable(path / (POOL + NEW), pool_bytes)
            _save_hnsw(span_index, path / (SPANS + NEW))
            _save_hnsw(sentence_index, path / (SENTENCES + NEW))
            _fill_counts(manifest, pool)
            manifest["files"] = {
                POOL: {"bytes": len(pool_bytes), "sha256": hashlib.sha256(pool_bytes).hexdigest()},
                SPANS: _file_record(path / (SPANS + NEW)),
                SENTENCES: _file_record(path / (SENTENCES + NEW)),
            }
            _commit(path, manifest, renames=(POOL, SPANS, SENTENCES))
        return cls(path, manifest, pool, span_index, sentence_index, embedder)

    # -- load -----------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path, *, embedder=None, check_embedder: bool = True) -> "DemoIndex":
        """Open an index directory; every file is checked against the manifest (sizes and sha256)."""
        path = Path(path)
        if not path.exists():
            raise UserError(f"{path}: no such index directory", fix="build one with `el4ner-local index build POOL... -o DIR`")
        if not path.is_dir():
            raise UserError(f"{path}: not an index directory", fix="pass the directory that `el4ner-local index build -o` wrote")
        with _locked(path, exclusive=False):
            return cls._load_unlocked(path, embedder, check_embedder)

    @classmethod
    def _load_unlocked(cls, path: Path, embedder, check_embedder: bool) -> "DemoIndex":
        fix = _REBUILD.format(path=path)
        manifest = _read_manifest(path)
        if check_embedder:
            if embedder is None:
                from .embedder import default_embedder

                embedder = default_embedder()
            _check_embedder(path, manifest, embedder.identity().to_dict())
        files = {name: _resolve_file(path, name, manifest["files"][name], prefix=(name == POOL))
                 for name in (POOL, SPANS, SENTENCES)}
        pool = _read_pool(files[POOL], manifest["files"][POOL]["bytes"])
        counts = manifest["counts"]
        n_spans = sum(len(s.spans) for s in pool)
        if len(pool) != counts["sentences"] or n_spans != counts["spans"]:
            raise UserError(f"{path}: pool.jsonl holds {len(pool)} sentences / {n_spans} spans but the manifest says "
                            f"{counts['sentences']} / {counts['spans']}", fix=fix)
        dim = manifest["embedder"]["dim"]
        span_index = _load_hnsw(files[SPANS], dim, n_spans, fix)
        sentence_index = _load_hnsw(files[SENTENCES], dim, len(pool), fix)
        return cls(path, manifest, pool, span_index, sentence_index, embedder)

    # -- retrieve -------------------------------------------------------------------------------

    def retrieve(self, sentence_text: str, candidate_spans: Sequence[str], k: int, mode: str = "span", seed: int = 0,
                 *, pos_weights: PosWeights | None = None) -> list[LabelledSentence]:
        """The k pool sentences to show as demonstrations for `sentence_text`, best first.

        mode="span": EL4NER's SpanSim over `candidate_spans` (the union of the models' zero-shot
        spans); each span's nearest pool spans (hnswlib) name the pool sentences worth scoring,
        which are then scored exactly, ties broken by pool order. With no candidate spans, or
        when the spans name fewer than k sentences, the rest are ranked by sentence cosine.
        mode="sentence": cosine between sentence embeddings (ablation).
        mode="random": k pool sentences drawn with a generator seeded by (seed, sentence_text).
        `pos_weights` overrides the index's POS weight settings for this call (ablations).
        """
        if mode not in MODES:
            raise UserError(f"unknown retrieval mode {mode!r}", fix=f"use one of: {', '.join(MODES)}")
        k = min(int(k), len(self.pool))
        if k <= 0:
            return []
        if mode == "random":
            rng = random.Random(f"{seed}\x00{sentence_text}")
            return [_copy(self.pool[i]) for i in rng.sample(range(len(self.pool)), k)]
        spans = list(dict.fromkeys(s.strip() for s in candidate_spans if s and s.strip()))
        chosen: list[int] = []
        if mode == "span" and spans:
            ids, _scores = self.span_scores(sentence_text, spans, pos_weights=pos_weights)
            chosen = ids[:k]
        if len(chosen) < k:
            taken = set(chosen)
            extra = [i for i in self.sentence_ranking(sentence_text, k + len(chosen)) if i not in taken]
            chosen += extra[: k - len(chosen)]
        return [_copy(self.pool[i]) for i in chosen]

    def span_scores(self, sentence_text: str, spans: Sequence[str], *, pos_weights: PosWeights | None = None):
        """(sentence ids, SpanSim scores) of the pool sentences reached through the span index, best first."""
        import numpy as np

        from .spansim import span_sim_many

        if not spans or self.n_spans == 0:
            return [], []
        weights = (pos_weights or self.pos_weights).weights(list(spans), sentence_text)
        q = _as_matrix(self.embedder.encode(list(spans)), self.manifest["embedder"]["dim"])
        kk = min(self.hnsw.knn_per_span, self.n_spans)
        self._span_index.set_ef(max(self.hnsw.ef_search, kk))
        neighbours, _ = self._span_index.knn_query(q, k=kk, num_threads=1)
        cand = np.unique(self._span_sentence[neighbours.ravel()])  # sorted = pool order
        starts, ends = self._offsets[cand], self._offsets[cand + 1]
        span_ids = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends)])
        vecs = np.asarray(self._span_index.get_items(span_ids, return_type="numpy"), dtype=np.float32)
        local = np.concatenate([[0], np.cumsum(ends - starts)])
        scores = span_sim_many(q, weights, vecs, local)
        order = np.lexsort((cand, -scores))  # best score first; ties -> pool order
        return [int(cand[i]) for i in order], [float(scores[i]) for i in order]

    def sentence_ranking(self, sentence_text: str, k: int) -> list[int]:
        """Ids of the k pool sentences nearest to `sentence_text` by embedding cosine; ties -> pool order."""
        import numpy as np

        k = min(k, len(self.pool))
        if k <= 0:
            return []
        q = _as_matrix(self.embedder.encode([sentence_text]), self.manifest["embedder"]["dim"])
        self._sentence_index.set_ef(max(self.hnsw.ef_search, k))
        ids, dist = self._sentence_index.knn_query(q, k=k, num_threads=1)
        order = np.lexsort((ids[0], dist[0]))
        return [int(ids[0][i]) for i in order]

    # -- add ------------------------------------------------------------------------------------

    def add(self, sentences: Iterable[LabelledSentence]) -> int:
        """Append labelled sentences to the pool and both indexes; persisted before returning.

        Crash-safe: until the new manifest is in place the index on disk is the old one. Returns
        the number of sentences added.
        """
        import numpy as np

        new = _validate(sentences)
        if not new:
            return 0
        path = self.path
        with _locked(path, exclusive=True):
            on_disk = _read_manifest(path)
            if on_disk["counts"] != self.manifest["counts"] or on_disk["files"] != self.manifest["files"]:
                raise UserError(f"{path}: the index changed on disk since it was loaded (another process added to it)",
                                fix="load it again and retry")
            ident = self.embedder.identity().to_dict()
            _check_embedder(path, self.manifest, ident)
            span_texts = [s.text[sp.start:sp.end] for s in new for sp in s.spans]
            dim = ident["dim"]
            span_vecs = _as_matrix(self.embedder.encode(span_texts), dim) if span_texts else None
            sent_vecs = _as_matrix(self.embedder.encode([s.text for s in new]), dim)
            n_sent, n_span = len(self.pool), self.n_spans
            try:
                if span_texts:
                    _ensure_capacity(self._span_index, n_span + len(span_texts))
                    self._span_index.add_items(span_vecs, np.arange(n_span, n_span + len(span_texts)), num_threads=1)
                _ensure_capacity(self._sentence_index, n_sent + len(new))
                self._sentence_index.add_items(sent_vecs, np.arange(n_sent, n_sent + len(new)), num_threads=1)
                renames = [SENTENCES]
                files = dict(self.manifest["files"])
                if span_texts:
                    _save_hnsw(self._span_index, path / (SPANS + NEW))
                    files[SPANS] = _file_record(path / (SPANS + NEW))
                    renames.append(SPANS)
                _save_hnsw(self._sentence_index, path / (SENTENCES + NEW))
                files[SENTENCES] = _file_record(path / (SENTENCES + NEW))
                # pool.jsonl: cut off what an interrupted add left, append, fsync
                committed = self.manifest["files"][POOL]["bytes"]
                pool_path = path / POOL
                with open(pool_path, "rb+") as f:
                    f.truncate(committed)
                    f.seek(committed)
                    f.write(b"".join(_encode(s) for s in new))
                    f.flush()
                    os.fsync(f.fileno())
                size = pool_path.stat().st_size
                files[POOL] = {"bytes": size, "sha256": _sha256(pool_path, size)}
                manifest = dict(self.manifest)
                manifest["files"] = files
                manifest["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                manifest["labels"] = _labels_in_order(new, known=self.manifest["labels"])
                _fill_counts(manifest, self.pool + new)
                _commit(path, manifest, renames=renames)
            except BaseException:
                # the in-memory indexes may hold the new items: go back to what is on disk
                fresh = DemoIndex._load_unlocked(path, self._embedder, check_embedder=False)
                self.__dict__.update(fresh.__dict__)
                raise
        self.__init__(path, manifest, self.pool + new, self._span_index, self._sentence_index, self._embedder)
        return len(new)

    # -- report ---------------------------------------------------------------------------------

    def info(self) -> dict:
        m = self.manifest
        return {
            "path": str(self.path),
            "format_version": m["format_version"],
            "embedder": m["embedder"],
            "pos_weights": m["pos_weights"],
            "hnsw": m["hnsw"],
            "counts": m["counts"],
            "labels": m["labels"],
            "created": m.get("created"),
            "updated": m.get("updated"),
            "sources": m.get("sources", []),
            "bytes": {name: rec["bytes"] for name, rec in m["files"].items()},
        }


# ---------------------------------------------------------------------------------------------
# Helpers


def _as_matrix(vecs, dim: int):
    import numpy as np

    arr = np.asarray(vecs, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"embedder returned shape {arr.shape}, expected (n, {dim})")
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return arr / np.where(norms > 0, norms, 1.0)


def _hnswlib():
    try:
        import hnswlib
    except ImportError:
        raise UserError("hnswlib is not installed", fix="pip install hnswlib") from None
    return hnswlib


def _new_hnsw(dim: int, n: int, hnsw: HnswSettings):
    index = _hnswlib().Index(space="cosine", dim=dim)
    index.init_index(max_elements=max(n, 1), ef_construction=hnsw.ef_construction, M=hnsw.M, random_seed=hnsw.seed)
    index.set_ef(hnsw.ef_search)
    return index


def _ensure_capacity(index, needed: int) -> None:
    if needed > index.get_max_elements():
        index.resize_index(max(needed, 2 * index.get_max_elements()))


def _save_hnsw(index, target: Path) -> None:
    index.save_index(str(target))  # hnswlib creates it with the umask's mode
    narrow(target, PRIVATE_FILE)
    _fsync_file(target)


def _load_hnsw(path: Path, dim: int, count: int, fix: str):
    index = _hnswlib().Index(space="cosine", dim=dim)
    try:
        index.load_index(str(path), max_elements=max(count, 1))
    except (RuntimeError, ValueError, OSError) as exc:
        raise UserError(f"{path}: cannot read the hnswlib index ({exc})", fix=fix) from None
    if index.get_current_count() != count:
        raise UserError(f"{path}: holds {index.get_current_count()} vectors but the manifest says {count}", fix=fix)
    return index


def _file_record(path: Path) -> dict:
    return {"bytes": path.stat().st_size, "sha256": _sha256(path)}


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


def _commit(path: Path, manifest: dict, renames: Sequence[str]) -> None:
    """Write the manifest (the commit point), then move the committed `.new` files into place."""
    tmp = path / (MANIFEST + TMP)
    _write_durable(tmp, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))
    os.replace(tmp, path / MANIFEST)
    fsync_dir(path)
    _roll_forward(path, renames)


def _roll_forward(path: Path, names: Iterable[str]) -> None:
    for name in names:
        src = path / (name + NEW)
        if src.exists():
            os.replace(src, path / name)
    fsync_dir(path)


def _check_target_dir(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise UserError(f"{path}: exists and is not a directory", fix="choose a new directory for the index")
    if path.is_dir():
        strangers = sorted(p.name for p in path.iterdir() if p.name not in _OUR_FILES)
        if strangers:
            raise UserError(f"{path}: directory holds other files ({', '.join(strangers[:3])}), not an index",
                            fix="choose a new or empty directory for the index")


def _read_manifest(path: Path) -> dict:
    fix = _REBUILD.format(path=path)
    mpath = path / MANIFEST
    try:
        raw = mpath.read_bytes()
    except FileNotFoundError:
        if any((path / n).exists() for n in (SPANS, SENTENCES, POOL, SPANS + NEW, POOL + NEW)):
            raise UserError(f"{mpath}: missing; the index was never completely written (interrupted build?)", fix=fix) from None
        raise UserError(f"{path}: not an index directory (no manifest.json)",
                        fix="build one with `el4ner-local index build POOL... -o DIR`") from None
    except OSError as exc:
        raise UserError(f"{mpath}: cannot read ({exc.strerror})", fix="check its permissions") from None
    try:
        m = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise UserError(f"{mpath}: corrupt or truncated manifest (not valid JSON)", fix=fix) from None
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise UserError(f"{mpath}: not an el4ner-local demonstration index manifest", fix=fix)
    if m.get("format_version") != FORMAT_VERSION:
        raise UserError(f"{mpath}: index format version {m.get('format_version')!r}, this el4ner-local reads version "
                        f"{FORMAT_VERSION}", fix=fix)
    try:
        ok = (isinstance(m["embedder"]["name"], str) and isinstance(m["embedder"]["dim"], int)
              and isinstance(m["embedder"]["weights_sha256"], str)
              and isinstance(m["counts"]["sentences"], int) and isinstance(m["counts"]["spans"], int)
              and isinstance(m["labels"], list)
              and all(isinstance(m["files"][n]["bytes"], int) and isinstance(m["files"][n]["sha256"], str)
                      for n in (POOL, SPANS, SENTENCES)))
        PosWeights.from_dict(m["pos_weights"])
        HnswSettings(**m["hnsw"])
    except (KeyError, TypeError, UserError):
        ok = False
    if not ok:
        raise UserError(f"{mpath}: manifest lacks required fields or has invalid values", fix=fix)
    if m["counts"]["sentences"] == 0:
        raise UserError(f"{mpath}: the index's pool is empty", fix=fix)
    return m


def _check_embedder(path: Path, manifest: dict, current: dict) -> None:
    built = manifest["embedder"]
    if built["name"] != current["name"] or built["weights_sha256"] != current["weights_sha256"] or built["dim"] != current["dim"]:
        raise UserError(f"{path}: index was built with embedder {built['name']} (weights sha256 {built['weights_sha256'][:12]}...) "
                        f"but this installation has {current['name']} ({current['weights_sha256'][:12]}...)",
                        fix=_REBUILD.format(path=path))


def _resolve_file(path: Path, name: str, record: dict, prefix: bool) -> Path:
    """The file (NAME, or a committed NAME.new whose rename was interrupted) that matches the manifest."""
    want_bytes, want_sha = record["bytes"], record["sha256"]
    for candidate in (path / name, path / (name + NEW)):
        try:
            size = candidate.stat().st_size
        except OSError:
            continue
        if size == want_bytes or (prefix and size > want_bytes):
            if _sha256(candidate, want_bytes if prefix else None) == want_sha:
                if candidate.name.endswith(NEW):
                    try:
                        _roll_forward(path, [name])
                        return path / name
                    except OSError:
                        pass
                return candidate
    present = (path / name).exists()
    problem = "does not match the manifest (size or sha256): interrupted write or corruption" if present else "is missing"
    raise UserError(f"{path / name}: {problem}", fix=_REBUILD.format(path=path))


def _read_pool(path: Path, committed: int) -> list[LabelledSentence]:
    with open(path, "rb") as f:
        data = f.read(committed)
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [_decode(line, f"{path}:{i + 1}") for i, line in enumerate(lines)]
