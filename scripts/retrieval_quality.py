"""How well does each retrieval mode pick demonstrations that show the query's entity types?

    python scripts/retrieval_quality.py [--pool ../shared/data/wnut17/wnut17train.conll]
                                        [--queries ../shared/data/wnut17/emerging.dev.conll] [--k 4]

Pool: WNUT-17 train (its gold spans are the pool spans). Queries: WNUT-17 dev sentences that have at
least one gold entity. For each query, the metric is the fraction of the query's gold entity types
that appear among the gold spans of the k demonstrations; the table gives its mean over queries
(and, as a check against "retrieve entity-dense sentences", the mean number of distinct types in
the demonstrations).

Candidate spans: the models' zero-shot spans do not exist here; these proposers are compared:
  gold  - the query's gold entity spans (an upper bound: perfect span proposals);
  caps  - a heuristic: @mentions, #hashtags and runs of capitalised / ALL-CAPS tokens that do not
          merely start the sentence (noisy, like a weak model's proposals);
  words - the pipeline's model-free proposer (retrieval/word_spans.py, `retrieval_spans = "words"`).
Modes: span (SpanSim, POS-heuristic weights), span-uniform (SpanSim, all weights 1), sentence
(cosine of sentence embeddings), random (mean over 5 seeds).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from el4ner_local.formats import read_labelled  # noqa: E402
from el4ner_local.retrieval import DemoIndex, PosWeights  # noqa: E402
from el4ner_local.retrieval.pos_weights import PRONOUNS, STOPWORDS  # noqa: E402
from el4ner_local.retrieval.word_spans import word_spans  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "wnut17"


def caps_candidates(sentence) -> list[str]:
    """Spans a capitalisation heuristic proposes: @x, #x, and runs of Capitalised tokens."""
    out, run = [], []
    toks = [sentence.text[a:b] for a, b in sentence.tokens]

    def flush():
        if run:
            out.append(" ".join(run))
            run.clear()

    for i, tok in enumerate(toks):
        lower = tok.lower()
        if tok[:1] in "@#" and len(tok) > 1:
            flush()
            out.append(tok)
        elif (
            tok[:1].isupper()
            and lower not in STOPWORDS
            and lower not in PRONOUNS
            and lower != "rt"
            and not (i == 0 and not any(c.isupper() for c in tok[1:]) and lower in _COMMON_STARTS)
        ):
            run.append(tok)
        else:
            flush()
    flush()
    return out


_COMMON_STARTS = {
    "just",
    "so",
    "what",
    "why",
    "how",
    "when",
    "where",
    "who",
    "well",
    "lol",
    "omg",
    "yes",
    "no",
    "thanks",
    "please",
    "today",
    "tonight",
    "now",
    "good",
    "happy",
    "watching",
    "going",
    "love",
}


def coverage(query, demos) -> tuple[float, int]:
    gold = {sp.label for sp in query.spans}
    shown = {sp.label for d in demos for sp in d.spans}
    return len(gold & shown) / len(gold), len(shown)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", type=Path, default=DATA / "wnut17train.conll")
    ap.add_argument("--queries", type=Path, default=DATA / "emerging.dev.conll")
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument("--index-dir", type=Path, default=None, help="keep the built index here (default: a temp dir)")
    ap.add_argument(
        "--reuse", action="store_true", help="load the index in --index-dir if it is there instead of rebuilding"
    )
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = ap.parse_args()

    pool = read_labelled(args.pool)
    queries = [q for q in read_labelled(args.queries) if q.spans]
    tmp = tempfile.TemporaryDirectory() if args.index_dir is None else None
    target = args.index_dir or Path(tmp.name) / "idx"
    t0 = time.perf_counter()
    if args.reuse and (target / "manifest.json").exists():
        index = DemoIndex.load(target)
    else:
        index = DemoIndex.build(pool, target)
    build_s = time.perf_counter() - t0
    print(
        f"pool {args.pool.name}: {len(pool)} sentences, {index.n_spans} spans; built in {build_s:.1f} s "
        f"(embedding included)",
        file=sys.stderr,
    )
    if [s.text for s in index.pool] != [s.text for s in pool]:
        sys.exit(f"{target}: the index there was not built from {args.pool}")
    print(f"queries {args.queries.name}: {len(queries)} sentences with gold entities; k = {args.k}", file=sys.stderr)

    uniform = PosWeights.uniform()
    rows = []
    proposers = (
        ("gold", lambda q: [q.text[s.start : s.end] for s in q.spans]),
        ("caps", caps_candidates),
        ("words", lambda q: word_spans(q.text, q.tokens)),
    )
    for cand_name, cands in proposers:
        runs = {
            "span (POS weights)": lambda q, c: index.retrieve(q.text, c, args.k, mode="span"),
            "span (uniform weights)": lambda q, c: index.retrieve(q.text, c, args.k, mode="span", pos_weights=uniform),
            "sentence cosine": lambda q, c: index.retrieve(q.text, c, args.k, mode="sentence"),
        }
        for name, fn in runs.items():
            if cand_name != "gold" and name == "sentence cosine":
                continue  # independent of the candidates: same as with gold
            print(f"{name}, {cand_name} candidates ...", file=sys.stderr)
            cov, ntypes = zip(*(coverage(q, fn(q, cands(q))) for q in queries))
            no_cand = sum(1 for q in queries if not cands(q))
            rows.append(
                (
                    name,
                    cand_name if name != "sentence cosine" else "-",
                    statistics.mean(cov),
                    statistics.mean(ntypes),
                    no_cand,
                )
            )
    # the hnswlib shortlist against exhaustive SpanSim over the whole pool (gold candidates, POS weights)
    import numpy as np

    from el4ner_local.retrieval.spansim import span_sim_many

    all_vecs = index.embedder.encode([s.text[sp.start : sp.end] for s in index.pool for sp in s.spans])
    same, ex_cov = 0, []
    for q in queries:
        spans = list(dict.fromkeys(q.text[s.start : s.end].strip() for s in q.spans))
        qv = index.embedder.encode(spans)
        scores = span_sim_many(qv, index.pos_weights.weights(spans, q.text), all_vecs, index._offsets)
        order = np.lexsort((np.arange(len(scores)), -scores))[: args.k]
        exhaustive = [index.pool[i] for i in order]
        got = index.retrieve(q.text, [q.text[s.start : s.end] for s in q.spans], args.k)
        same += [d.text for d in got] == [d.text for d in exhaustive]
        ex_cov.append(coverage(q, exhaustive)[0])
    print(
        f"span (POS, gold candidates): top-{args.k} identical to exhaustive SpanSim for {same}/{len(queries)} queries "
        f"({same / len(queries):.1%}); exhaustive coverage {statistics.mean(ex_cov):.3f}",
        file=sys.stderr,
    )

    with_entities = [i for i, s in enumerate(index.pool) if s.spans]
    for name, population in (
        ("random (5 seeds)", None),
        ("random among pool sentences with entities (5 seeds)", with_entities),
    ):
        covs, types = [], []
        for seed in range(5):
            if population is None:
                picks = [index.retrieve(q.text, [], args.k, mode="random", seed=seed) for q in queries]
            else:
                rng = random.Random(seed)
                picks = [[index.pool[i] for i in rng.sample(population, args.k)] for _ in queries]
            cov, ntypes = zip(*(coverage(q, demos) for q, demos in zip(queries, picks)))
            covs.append(statistics.mean(cov))
            types.append(statistics.mean(ntypes))
        rows.append((name, "-", statistics.mean(covs), statistics.mean(types), 0))
        print(f"{name}: per-seed coverage {', '.join(f'{c:.3f}' for c in covs)}", file=sys.stderr)

    if args.markdown:
        print("| mode | candidate spans | gold types covered | distinct types shown |")
        print("|---|---|---|---|")
        for name, cand, cov, nt, no_cand in rows:
            extra = (
                f" ({no_cand} queries without candidates fell back to sentence cosine)"
                if no_cand and cand not in ("gold", "-")
                else ""
            )
            print(f"| {name} | {cand}{extra} | {cov:.3f} | {nt:.2f} |")
    else:
        for name, cand, cov, nt, no_cand in rows:
            print(f"{name:24} {cand:5} coverage {cov:.3f}  types shown {nt:.2f}  no-candidate queries {no_cand}")
    if tmp:
        tmp.cleanup()


if __name__ == "__main__":
    main()
