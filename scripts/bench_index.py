"""Build and query cost of the demonstration index for pools of 1k, 10k and 100k spans.

    python scripts/bench_index.py [--sizes 1000 10000 100000] [--queries 200] [--markdown]

To isolate the index from the embedder, span vectors are random unit vectors (384 dimensions, as
all-MiniLM-L6-v2's) given by a stand-in embedder, and the pools are synthetic sentences with two
spans each (so 100k spans = 50k sentences). Query times are medians over the queries
(the machine is shared). Measured per size:

  hnsw build      hnswlib add_items of the span vectors alone (1 thread, as DemoIndex does)
  index build     DemoIndex.build without embedding: both hnswlib indexes, pool.jsonl, hashes, fsync
  load            DemoIndex.load (reads and sha256-checks every file)
  knn / span      one k=32 hnswlib query (ef 128)
  exact / span    the same query answered by a brute-force numpy scan (grows linearly)
  recall          of the exact 32 nearest, and of the exact 10 nearest, among the 32 returned
                  (a synthetic cluster holds about 20 spans, so ranks 21-32 of the exact answer
                  are near-ties of unrelated vectors; the top 10 is what SpanSim's max needs)
  retrieve        DemoIndex.retrieve with 3 candidate spans, k=4 (knn, exact SpanSim on the
                  shortlist, ranking), embedding excluded

Embedding cost is measured separately with the real embedder on real WNUT-17 span texts and
sentences (it does not depend on the pool size at query time, and is linear at build time).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from el4ner_local.documents import LabelledSentence, Span  # noqa: E402
from el4ner_local.retrieval import DemoIndex, HnswSettings  # noqa: E402
from el4ner_local.retrieval.embedder import EmbedderIdentity  # noqa: E402

DIM = 384


class ClusteredEmbedder:
    """A stand-in embedder: each text gets a fixed unit vector near one of `n_clusters` random centres.

    Uniformly random vectors in 384 dimensions have no near neighbours at all (every cosine is
    about 0), the worst case for any ANN index and unlike real embeddings; here a text's vector is
    centre + noise with an in-cluster cosine of about 0.6, clusters of about 20 spans.
    """

    def __init__(self, n_clusters: int, sigma: float = 0.042, seed: int = 0):
        rng = np.random.default_rng(seed)
        c = rng.standard_normal((n_clusters, DIM), dtype=np.float32)
        self.centres = c / np.linalg.norm(c, axis=1, keepdims=True)
        self.sigma = sigma

    def identity(self) -> EmbedderIdentity:
        return EmbedderIdentity("bench/clustered-random-vectors", DIM, "0" * 64)

    def encode(self, texts):
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            h = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            noise = np.random.default_rng(h).standard_normal(DIM, dtype=np.float32)
            out[i] = self.centres[h % len(self.centres)] + self.sigma * noise
        return out / np.linalg.norm(out, axis=1, keepdims=True)


class TimedEmbedder:
    def __init__(self, inner):
        self.inner, self.seconds = inner, 0.0

    def identity(self):
        return self.inner.identity()

    def encode(self, texts):
        t0 = time.perf_counter()
        try:
            return self.inner.encode(texts)
        finally:
            self.seconds += time.perf_counter() - t0


def synthetic_pool(n_spans: int) -> list[LabelledSentence]:
    out = []
    for i in range(n_spans // 2):
        a, b = f"Person{i}", f"Place{i * 7919 % 100003}"
        text = f"{a} travelled to {b} last week ."
        j = text.index(b)
        out.append(LabelledSentence(text, [], [Span(0, len(a), "person"), Span(j, j + len(b), "location")], "bench"))
    return out


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def bench_size(n_spans: int, n_queries: int, tmp: Path) -> dict:
    emb = ClusteredEmbedder(max(1, n_spans // 20))
    pool = synthetic_pool(n_spans)
    span_texts = [s.text[sp.start : sp.end] for s in pool for sp in s.spans]
    vecs = emb.encode(span_texts)
    hnsw = HnswSettings()

    import hnswlib

    t0 = time.perf_counter()
    raw = hnswlib.Index(space="cosine", dim=DIM)
    raw.init_index(max_elements=len(vecs), ef_construction=hnsw.ef_construction, M=hnsw.M, random_seed=hnsw.seed)
    raw.add_items(vecs, np.arange(len(vecs)), num_threads=1)
    hnsw_build = time.perf_counter() - t0

    t0 = time.perf_counter()
    DemoIndex.build(pool, tmp / f"idx{n_spans}", embedder=emb)
    index_build_total = time.perf_counter() - t0
    t0 = time.perf_counter()
    emb.encode(span_texts + [s.text for s in pool])
    fake_embed = time.perf_counter() - t0
    t0 = time.perf_counter()
    index = DemoIndex.load(tmp / f"idx{n_spans}", embedder=emb)
    load = time.perf_counter() - t0

    q = emb.encode([f"query span {i}" for i in range(n_queries)])
    raw.set_ef(max(hnsw.ef_search, hnsw.knn_per_span))
    times = []
    for row in q:
        t0 = time.perf_counter()
        raw.knn_query(row[None, :], k=hnsw.knn_per_span, num_threads=1)
        times.append(time.perf_counter() - t0)
    knn = statistics.median(times)

    # the cost of answering the same query exactly (brute-force scan), and the shortlist's recall
    times, exact_ids = [], []
    for row in q:
        t0 = time.perf_counter()
        sims = vecs @ row
        exact_ids.append(np.argpartition(-sims, hnsw.knn_per_span)[: hnsw.knn_per_span])
        times.append(time.perf_counter() - t0)
    exact = statistics.median(times)
    approx_ids, _ = raw.knn_query(q, k=hnsw.knn_per_span, num_threads=1)
    recall = statistics.mean(
        len(set(a) & set(e)) / hnsw.knn_per_span for a, e in zip(approx_ids, exact_ids, strict=True)
    )
    top10 = [np.argsort(-(vecs @ row))[:10] for row in q]
    recall10 = statistics.mean(len(set(a) & set(e)) / 10 for a, e in zip(approx_ids, top10, strict=True))

    queries = [
        (f"someone met {a} and {b} in {c}", [a, b, c])
        for a, b, c in ((f"Q{i}a", f"Q{i}b", f"Q{i}c") for i in range(n_queries))
    ]
    for text, spans in queries[:5]:
        index.retrieve(text, spans, k=4)
    index._embedder = timed = TimedEmbedder(emb)
    times = []
    for text, spans in queries:
        before = timed.seconds
        t0 = time.perf_counter()
        index.retrieve(text, spans, k=4)
        times.append(time.perf_counter() - t0 - (timed.seconds - before))  # embedding excluded
    retrieve = statistics.median(times)
    return {
        "spans": n_spans,
        "sentences": len(pool),
        "hnsw_build": hnsw_build,
        "index_build": index_build_total - fake_embed,
        "load": load,
        "knn": knn,
        "exact": exact,
        "recall": recall,
        "recall10": recall10,
        "retrieve": retrieve,
    }


def bench_embedder(n: int = 1000) -> dict:
    from el4ner_local.formats import read_labelled
    from el4ner_local.retrieval.embedder import MiniLMEmbedder

    sentences = read_labelled(ROOT.parent / "shared" / "data" / "wnut17" / "wnut17train.conll")
    spans = list(dict.fromkeys(s.text[sp.start : sp.end] for s in sentences for sp in s.spans))[:n]
    texts = [s.text for s in sentences][:n]
    t0 = time.perf_counter()
    emb = MiniLMEmbedder()
    emb.encode(["warm up"])
    load = time.perf_counter() - t0
    t0 = time.perf_counter()
    emb.encode(spans)
    span_s = (time.perf_counter() - t0) / len(spans)
    t0 = time.perf_counter()
    emb.encode(texts)
    sent_s = (time.perf_counter() - t0) / len(texts)
    one = []
    for i in range(20):
        emb._cache.clear()
        t0 = time.perf_counter()
        emb.encode([spans[i], spans[i + 20], spans[i + 40]])
        one.append(time.perf_counter() - t0)
    return {"load": load, "span": span_s, "sentence": sent_s, "query3": statistics.median(one), "n": len(spans)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--no-embedder", action="store_true", help="skip the real-embedder measurement")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            rows.append(bench_size(n, args.queries, Path(tmp)))
            print(f"done {n} spans", file=sys.stderr)
    if args.markdown:
        print(
            "| pool spans | sentences | hnswlib build (s) | DemoIndex build w/o embedding (s) | load (s) | "
            "knn k=32 / span (ms) | exact scan / span (ms) | recall@32 | exact top-10 in the 32 | retrieve, 3 spans, k=4 (ms) |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['spans']:,} | {r['sentences']:,} | {r['hnsw_build']:.2f} | {r['index_build']:.2f} | {r['load']:.2f} | "
                f"{ms(r['knn'])} | {ms(r['exact'])} | {r['recall']:.3f} | {r['recall10']:.3f} | {ms(r['retrieve'])} |"
            )
    else:
        for r in rows:
            print(r)
    if not args.no_embedder:
        e = bench_embedder()
        print(
            f"\nembedder all-MiniLM-L6-v2 (real): load {e['load']:.1f} s; {e['span'] * 1000:.1f} ms per span and "
            f"{e['sentence'] * 1000:.1f} ms per sentence in batches ({e['n']} WNUT-17 texts); "
            f"3 query spans in {e['query3'] * 1000:.0f} ms (median)"
        )


if __name__ == "__main__":
    main()
