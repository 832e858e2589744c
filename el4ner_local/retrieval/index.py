"""DemoIndex: a labelled demonstration pool with hnswlib indexes over its span and sentence embeddings.

Build, load and add go through store.py (the directory on disk, its manifest and crash safety);
this module embeds, checks the pool, and retrieves demonstrations (SpanSim, sentence cosine, random).
"""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path

from ..documents import LabelledSentence, tokenize
from ..errors import UserError
from . import store
from .hnsw import HnswSettings, ensure_capacity, new_hnsw
from .pos_weights import PosWeights

MODES = ("span", "sentence", "random")


# ---------------------------------------------------------------------------------------------
# Pool sentences


def _validate(sentences: Iterable[LabelledSentence]) -> list[LabelledSentence]:
    """Checked copies, spans sorted and de-duplicated, tokens filled in when missing."""
    out = []
    for i, s in enumerate(sentences):
        where = s.source or f"sentence #{i + 1}"
        if not isinstance(s, LabelledSentence):
            raise TypeError(f"expected LabelledSentence, got {type(s).__name__}")
        if not isinstance(s.text, str) or not s.text.strip():
            raise UserError(
                f"{where}: empty sentence in the demonstration pool", fix="remove empty sentences from the pool"
            )
        spans = sorted(set(s.spans))
        for sp in spans:
            if not (0 <= sp.start < sp.end <= len(s.text)):
                raise UserError(
                    f"{where}: span {sp.start}-{sp.end} lies outside the sentence ({len(s.text)} characters)",
                    fix="correct the span offsets",
                )
            if not isinstance(sp.label, str) or not sp.label.strip() or "\n" in sp.label:
                raise UserError(
                    f"{where}: span {sp.start}-{sp.end} has an empty or invalid label {sp.label!r}",
                    fix="give every span an entity type",
                )
            if not s.text[sp.start : sp.end].strip():
                raise UserError(
                    f"{where}: span {sp.start}-{sp.end} covers only whitespace", fix="correct the span offsets"
                )
        tokens = list(s.tokens) if s.tokens else tokenize(s.text)
        out.append(LabelledSentence(text=s.text, tokens=[(a, b) for a, b in tokens], spans=spans, source=s.source))
    return out


def _copy(s: LabelledSentence) -> LabelledSentence:
    return LabelledSentence(text=s.text, tokens=list(s.tokens), spans=list(s.spans), source=s.source)


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
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(
            np.int64
        )  # sentence j owns spans offsets[j]:offsets[j+1]
        self._span_sentence = np.repeat(np.arange(len(pool), dtype=np.int64), sizes)
        self._excluded: frozenset[int] = frozenset()  # pool sentences a view never retrieves (without())

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
    def build(
        cls,
        sentences: Iterable[LabelledSentence],
        path: str | Path,
        *,
        pos_weights: PosWeights | None = None,
        embedder=None,
        hnsw: HnswSettings | None = None,
        labels: Sequence[str] = (),
        sources: Sequence[str] = (),
        extra: dict | None = None,
        progress=None,
    ) -> DemoIndex:
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
            raise UserError(
                f"{path}: the demonstration pool has no labelled entities (all {len(pool)} sentences have only O tags)",
                fix="give a pool annotated with entity types",
            )
        store.check_target_dir(path)
        pos_weights = pos_weights or PosWeights()
        hnsw = hnsw or HnswSettings()
        if embedder is None:
            from .embedder import default_embedder

            embedder = default_embedder()
        ident = embedder.identity()
        say = progress or (lambda msg: None)

        span_texts = [s.text[sp.start : sp.end] for s in pool for sp in s.spans]
        t0 = time.perf_counter()
        say(f"embedding {len(span_texts)} spans and {len(pool)} sentences")
        span_vecs = _as_matrix(embedder.encode(span_texts), ident.dim)
        sent_vecs = _as_matrix(embedder.encode([s.text for s in pool]), ident.dim)
        t1 = time.perf_counter()
        span_index = new_hnsw(ident.dim, len(span_texts), hnsw)
        span_index.add_items(span_vecs, np.arange(len(span_texts)), num_threads=1)
        sentence_index = new_hnsw(ident.dim, len(pool), hnsw)
        sentence_index.add_items(sent_vecs, np.arange(len(pool)), num_threads=1)
        t2 = time.perf_counter()
        say(f"embedded in {t1 - t0:.1f} s, indexed in {t2 - t1:.2f} s")

        manifest = store.new_manifest(ident.to_dict(), pos_weights, hnsw, labels, sources, extra)
        store.write_index(path, manifest, pool, span_index, sentence_index)
        return cls(path, manifest, pool, span_index, sentence_index, embedder)

    # -- load -----------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path, *, embedder=None, check_embedder: bool = True) -> DemoIndex:
        """Open an index directory; every file is checked against the manifest (sizes and sha256)."""
        path = Path(path)
        if not path.exists():
            raise UserError(
                f"{path}: no such index directory", fix="build one with `el4ner-local index build POOL... -o DIR`"
            )
        if not path.is_dir():
            raise UserError(
                f"{path}: not an index directory", fix="pass the directory that `el4ner-local index build -o` wrote"
            )
        with store.locked(path, exclusive=False):
            return cls._load_unlocked(path, embedder, check_embedder)

    @classmethod
    def _load_unlocked(cls, path: Path, embedder, check_embedder: bool) -> DemoIndex:
        manifest = store.read_manifest(path)
        if check_embedder:
            if embedder is None:
                from .embedder import default_embedder

                embedder = default_embedder()
            store.check_embedder(path, manifest, embedder.identity().to_dict())
        pool, span_index, sentence_index = store.read_index(path, manifest)
        return cls(path, manifest, pool, span_index, sentence_index, embedder)

    # -- retrieve -------------------------------------------------------------------------------

    def without(self, ids: Collection[int]) -> DemoIndex:
        """A view of this index that never retrieves the pool sentences `ids` (nor another sentence of the
        same text): a held-out slice of the pool is tagged with the rest of it as demonstrations
        (`index tune`). It shares the pool and the indexes; it cannot be added to."""
        held = {self.pool[i].text for i in ids}
        view = copy.copy(self)
        view._excluded = self._excluded | {i for i, s in enumerate(self.pool) if s.text in held}
        return view

    def demonstration_pool(self) -> list[LabelledSentence]:
        """The pool sentences this index (or view) may retrieve."""
        return [s for i, s in enumerate(self.pool) if i not in self._excluded]

    def retrieve(
        self,
        sentence_text: str,
        candidate_spans: Sequence[str],
        k: int,
        mode: str = "span",
        seed: int = 0,
        *,
        pos_weights: PosWeights | None = None,
        exclude: Collection[int] = (),
    ) -> list[LabelledSentence]:
        """The k pool sentences to show as demonstrations for `sentence_text`, best first.

        mode="span": EL4NER's SpanSim over `candidate_spans` (the union of the models' zero-shot
        spans); each span's nearest pool spans (hnswlib) name the pool sentences worth scoring,
        which are then scored exactly, ties broken by pool order. With no candidate spans, or
        when the spans name fewer than k sentences, the rest are ranked by sentence cosine.
        mode="sentence": cosine between sentence embeddings (ablation).
        mode="random": k pool sentences drawn with a generator seeded by (seed, sentence_text).
        `pos_weights` overrides the index's POS weight settings for this call (ablations).
        `exclude`: pool sentence ids never to return (with those of a view, `without`); the others are
        ranked as if the excluded sentences were not in the pool.
        """
        if mode not in MODES:
            raise UserError(f"unknown retrieval mode {mode!r}", fix=f"use one of: {', '.join(MODES)}")
        skip = self._skipped(exclude)
        k = min(int(k), len(self.pool) - len(skip))
        if k <= 0:
            return []
        if mode == "random":
            rng = random.Random(f"{seed}\x00{sentence_text}")
            population = [i for i in range(len(self.pool)) if i not in skip] if skip else range(len(self.pool))
            return [_copy(self.pool[i]) for i in rng.sample(population, k)]
        spans = list(dict.fromkeys(s.strip() for s in candidate_spans if s and s.strip()))
        chosen: list[int] = []
        if mode == "span" and spans:
            ids, _scores = self.span_scores(sentence_text, spans, pos_weights=pos_weights, exclude=skip)
            chosen = ids[:k]
        if len(chosen) < k:
            taken = set(chosen)
            ranked = self.sentence_ranking(sentence_text, k + len(chosen), exclude=skip)
            chosen += [i for i in ranked if i not in taken][: k - len(chosen)]
        return [_copy(self.pool[i]) for i in chosen]

    def _skipped(self, exclude: Collection[int]) -> frozenset[int]:
        return self._excluded | {int(i) for i in exclude if 0 <= int(i) < len(self.pool)}

    def span_scores(
        self,
        sentence_text: str,
        spans: Sequence[str],
        *,
        pos_weights: PosWeights | None = None,
        exclude: Collection[int] = (),
    ):
        """(sentence ids, SpanSim scores) of the pool sentences reached through the span index, best first
        (never an excluded sentence: see `retrieve`)."""
        import numpy as np

        from .spansim import span_sim_many

        skip = self._skipped(exclude)
        skipped_spans = sum(len(self.pool[i].spans) for i in skip)
        kk = min(self.hnsw.knn_per_span, self.n_spans - skipped_spans)
        if not spans or kk <= 0:
            return [], []
        weights = (pos_weights or self.pos_weights).weights(list(spans), sentence_text)
        q = _as_matrix(self.embedder.encode(list(spans)), self.manifest["embedder"]["dim"])
        # the kk nearest spans of the sentences not excluded: fetch enough to drop every excluded one
        fetch = min(kk + skipped_spans, self.n_spans)
        self._span_index.set_ef(max(self.hnsw.ef_search, fetch))
        neighbours, _ = self._span_index.knn_query(q, k=fetch, num_threads=1)
        owners = self._span_sentence[neighbours]  # each row nearest first
        if skip:
            out = np.isin(owners, list(skip))
            owners = np.concatenate([row[~drop][:kk] for row, drop in zip(owners, out, strict=True)])
        cand = np.unique(owners.ravel())  # sorted = pool order
        starts, ends = self._offsets[cand], self._offsets[cand + 1]
        span_ids = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)])
        vecs = np.asarray(self._span_index.get_items(span_ids, return_type="numpy"), dtype=np.float32)
        local = np.concatenate([[0], np.cumsum(ends - starts)])
        scores = span_sim_many(q, weights, vecs, local)
        order = np.lexsort((cand, -scores))  # best score first; ties -> pool order
        return [int(cand[i]) for i in order], [float(scores[i]) for i in order]

    def sentence_ranking(self, sentence_text: str, k: int, *, exclude: Collection[int] = ()) -> list[int]:
        """Ids of the k pool sentences nearest to `sentence_text` by embedding cosine; ties -> pool order.
        Never an excluded sentence (see `retrieve`)."""
        import numpy as np

        skip = self._skipped(exclude)
        k = min(k, len(self.pool) - len(skip))
        if k <= 0:
            return []
        fetch = min(k + len(skip), len(self.pool))
        q = _as_matrix(self.embedder.encode([sentence_text]), self.manifest["embedder"]["dim"])
        self._sentence_index.set_ef(max(self.hnsw.ef_search, fetch))
        ids, dist = self._sentence_index.knn_query(q, k=fetch, num_threads=1)
        order = np.lexsort((ids[0], dist[0]))
        return [i for i in (int(ids[0][j]) for j in order) if i not in skip][:k]

    # -- add ------------------------------------------------------------------------------------

    def add(self, sentences: Iterable[LabelledSentence]) -> int:
        """Append labelled sentences to the pool and both indexes; persisted before returning.

        Crash-safe: until the new manifest is in place the index on disk is the old one. Returns
        the number of sentences added.
        """
        import numpy as np

        if self._excluded:
            raise ValueError("a view without some pool sentences (DemoIndex.without) cannot be added to")
        new = _validate(sentences)
        if not new:
            return 0
        path = self.path
        with store.locked(path, exclusive=True):
            on_disk = store.read_manifest(path)
            if on_disk["counts"] != self.manifest["counts"] or on_disk["files"] != self.manifest["files"]:
                raise UserError(
                    f"{path}: the index changed on disk since it was loaded (another process added to it)",
                    fix="load it again and retry",
                )
            ident = self.embedder.identity().to_dict()
            store.check_embedder(path, self.manifest, ident)
            span_texts = [s.text[sp.start : sp.end] for s in new for sp in s.spans]
            dim = ident["dim"]
            span_vecs = _as_matrix(self.embedder.encode(span_texts), dim) if span_texts else None
            sent_vecs = _as_matrix(self.embedder.encode([s.text for s in new]), dim)
            n_sent, n_span = len(self.pool), self.n_spans
            try:
                if span_texts:
                    ensure_capacity(self._span_index, n_span + len(span_texts))
                    self._span_index.add_items(span_vecs, np.arange(n_span, n_span + len(span_texts)), num_threads=1)
                ensure_capacity(self._sentence_index, n_sent + len(new))
                self._sentence_index.add_items(sent_vecs, np.arange(n_sent, n_sent + len(new)), num_threads=1)
                manifest = store.write_addition(
                    path, self.manifest, self.pool, new, self._span_index if span_texts else None, self._sentence_index
                )
            except BaseException:
                # the in-memory indexes may hold the new items: go back to what is on disk
                fresh = DemoIndex._load_unlocked(path, self._embedder, check_embedder=False)
                self.__dict__.update(fresh.__dict__)
                raise
        DemoIndex.__init__(
            self, path, manifest, self.pool + new, self._span_index, self._sentence_index, self._embedder
        )
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
