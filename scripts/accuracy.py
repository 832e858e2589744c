"""Records for choosing the defaults (issue 14): every member's answers at every stage but verification,
on the shared corpora's dev splits (to choose) and test splits (to report), kept in the repository.

    python scripts/accuracy.py record --split dev --limit 200 [--corpus NAME] [--threads 2]
    python scripts/accuracy.py status [--split dev]        # how much is recorded
    python scripts/accuracy.py score [--split dev]         # rules rescored on the recorded prefixes
    python scripts/accuracy.py choose [--split dev]        # the defaults for an untuned pool (below)
    python scripts/accuracy.py labels --split dev --limit 50   # labelling without a pool (below)

Recorded with the models of scripts/candidate_models.toml, k and demo_words of the run (RUNS), extraction types and
stage-3 log-probability types (so every type source and vote rule is rescored from them without a
model call). The records live in docs/eval-cache/records, committed as they grow: a long recording is
spread over sessions and a stop loses nothing. The demonstration indexes beside them are rebuilt
from the pools (git ignores them).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = (ROOT / ".." / "shared" / "data").resolve()
CACHE = ROOT / "docs" / "eval-cache"
MODELS = ROOT / "scripts" / "candidate_models.toml"  # the default members and Qwen2.5-Coder-1.5B
SPLITS = {
    "dev": {
        "WNUT-17": DATA / "wnut17" / "emerging.dev.conll",
        "NCBI-disease": DATA / "ncbi_disease" / "devel.tsv",
        "CrossNER politics": DATA / "crossner" / "politics" / "dev.txt",
        "CrossNER science": DATA / "crossner" / "science" / "dev.txt",
    },
    "test": {
        "WNUT-17": DATA / "wnut17" / "emerging.test.annotated",
        "NCBI-disease": DATA / "ncbi_disease" / "test.tsv",
        "CrossNER politics": DATA / "crossner" / "politics" / "test.txt",
        "CrossNER science": DATA / "crossner" / "science" / "test.txt",
    },
}
POOLS = {
    "WNUT-17": DATA / "wnut17" / "wnut17train.conll",
    "NCBI-disease": DATA / "ncbi_disease" / "train.tsv",
    "CrossNER politics": DATA / "crossner" / "politics" / "train.txt",
    "CrossNER science": DATA / "crossner" / "science" / "train.txt",
}
SEED = 0
# name -> settings on top of models.toml's [pipeline] (the recording settings of records.py on top)
RUNS = {
    "whole-k4": {"k": 4, "demo_words": 0},
}
STEPS = (10, 25, 50, 100, 150, 200)  # sample prefixes, corpora interleaved at each


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def tagger_for(index, run: str, threads: int | None = None):
    from el4ner_local.evaluation.cache import RecordCache
    from el4ner_local.evaluation.records import recording_tagger

    tagger = recording_tagger(index, "span", models=MODELS, threads=threads, overrides=RUNS[run], stages="typed")
    return tagger, RecordCache.for_tagger(tagger, "span", CACHE)


def corpus_sample(split: str, corpus: str, limit: int):
    from el4ner_local.evaluation.records import sample
    from el4ner_local.formats import read_labelled

    return sample(read_labelled(SPLITS[split][corpus]), limit, SEED)


def pool_of(corpus: str):
    from el4ner_local.evaluation.cache import pool_index

    return pool_index(POOLS[corpus], CACHE, progress=log)


def record(args) -> None:
    from el4ner_local.evaluation.records import run_records

    corpora = args.corpus or list(SPLITS[args.split])
    loaded: dict = {}  # corpus -> (its sample, tagger, record cache): the models load once per corpus
    for n in [s for s in STEPS if s < args.limit] + [args.limit]:
        for corpus in corpora:
            if corpus not in loaded:
                chosen = corpus_sample(args.split, corpus, max(STEPS[-1], args.limit))
                loaded[corpus] = (chosen, *tagger_for(pool_of(corpus), args.run, args.threads))
            chosen, tagger, rc = loaded[corpus]
            todo = [s for s in chosen[:n] if rc.get(s.text) is None]
            if not todo:
                continue
            log(f"{args.split} {corpus} [{args.run}] prefix {n}: {len(todo)} to record -> {rc.path.name}")
            run_records(
                tagger,
                chosen[:n],
                rc,
                progress=lambda i, total, hit, c=corpus: None if hit else log(f"  {c} {i}/{total}"),
            )


def status(args) -> None:
    for corpus in SPLITS[args.split]:
        entries, _, _ = recorded(args.split, corpus, args.run)
        print(f"{args.split} {corpus} [{args.run}]: first {len(entries)} of the sample recorded")


def recorded(split: str, corpus: str, run: str):
    """The longest recorded prefix of the corpus's sample: (entries, gold sentences, members)."""
    chosen = corpus_sample(split, corpus, STEPS[-1])
    tagger, rc = tagger_for(pool_of(corpus), run)
    n = next((i for i, s in enumerate(chosen) if rc.get(s.text) is None), len(chosen))
    return [rc.get(s.text) for s in chosen[:n]], chosen[:n], [m.name for m in tagger.models]


def score(args) -> None:
    """Strict micro-F1 (exact span and type) of each member alone and of a few ensemble rules, per
    corpus and pooled over the corpora, rescored from the records with votes.decide."""
    from dataclasses import replace

    from el4ner_local.evaluation.scoring import Counts, rescore
    from el4ner_local.pipeline.votes import VoteRule

    base = VoteRule(extract_min_votes=1, type_source="extract", verify=False)
    pooled: dict[str, Counts] = {}
    for corpus in args.corpus or list(SPLITS[args.split]):
        entries, gold, members = recorded(args.split, corpus, args.run)
        if not entries:
            continue
        rules = {f"{m} alone": (base, [m]) for m in members}
        for source in ("extract", "both"):
            for ev in (1, 2):
                rules[f"ensemble ev{ev} {source}"] = (replace(base, extract_min_votes=ev, type_source=source), None)
        print(f"{args.split} {corpus}: {len(entries)} sentences, {sum(len(g.spans) for g in gold)} entities")
        for name, (rule, only) in rules.items():
            c = rescore(entries, gold, rule, only).counts
            total = pooled.setdefault(name, Counts())
            total.tp, total.pred, total.gold = total.tp + c.tp, total.pred + c.pred, total.gold + c.gold
            print(f"  {name:32s} F1 {100 * c.f1:5.1f}")
    print("pooled (micro over the corpora):")
    for name, total in pooled.items():
        print(f"  {name:32s} F1 {100 * total.f1:5.1f}")


def choose(args) -> None:
    """The defaults for a pool nobody tuned, from the dev records: tuning.choose over the corpora pooled
    (the rule models.toml's [pipeline] should hold), its transfer to each corpus left out of the choice,
    and what a per-pool tuning (`index tune`) gives, cross-fitted within each corpus. Each next to the
    members alone and the union of extractions, strict micro F1."""
    import json
    from dataclasses import replace

    from el4ner_local.evaluation.scoring import rescore
    from el4ner_local.evaluation.tuning import choose as choose_rule
    from el4ner_local.pipeline.votes import VoteRule

    base = VoteRule(extract_min_votes=1, type_source="extract", verify=False, weights={})
    data = {}
    for corpus in args.corpus or list(SPLITS[args.split]):
        entries, gold, members = recorded(args.split, corpus, args.run)
        if entries:
            data[corpus] = (entries, gold, members)
    members = next(iter(data.values()))[2]

    def pooled(names):
        return [e for c in names for e in data[c][0]], [g for c in names for g in data[c][1]]

    entries, gold = pooled(data)
    tuned = choose_rule(entries, gold, members, base)
    report = tuned.report
    print(f"pooled {args.split}: {report['sentences']} sentences, {report['gold_entities']} entities")
    print(f"  chosen {json.dumps(report['chosen'])}")
    print(f"  calibration {json.dumps(report['calibration'].get('points'))}")
    print(f"  ECE before {report['calibration']['ece_before']} after {report['calibration'].get('ece_after')}")
    print(f"  cross-fitted {json.dumps(report['cross_fitted'])}")
    print(f"  thresholds {json.dumps(report['thresholds']['kept'])}")
    default = replace(tuned.rule, label_thresholds={})  # labels differ by pool: no per-label default
    print(
        "per corpus (F1): members alone | union | pooled choice | chosen on the other corpora | tuned on itself (2-fold)"
    )
    for corpus, (c_entries, c_gold, _) in data.items():
        alone = {m: rescore(c_entries, c_gold, replace(base, type_source="extract"), [m]).counts.f1 for m in members}
        union = rescore(c_entries, c_gold, base).counts.f1
        here = rescore(c_entries, c_gold, default).counts.f1
        others = [c for c in data if c != corpus]
        if others:
            o_entries, o_gold = pooled(others)
            moved = replace(choose_rule(o_entries, o_gold, members, base).rule, label_thresholds={})
            transfer = rescore(c_entries, c_gold, moved).counts.f1
        else:
            transfer = float("nan")
        own = choose_rule(c_entries, c_gold, members, base).report["cross_fitted"].get("f1", float("nan"))
        best = max(alone, key=alone.__getitem__)
        print(
            f"  {corpus:18s} {len(c_entries):3d} sent | "
            + " ".join(f"{m} {100 * f:4.1f}" for m, f in alone.items())
            + f" | union {100 * union:4.1f} | pooled {100 * here:4.1f} | transfer {100 * transfer:4.1f}"
            + f" | own {100 * own:4.1f} | best member {best} {100 * alone[best]:4.1f}"
        )


def labels(args) -> None:
    """Labelling without a pool of one's own: each corpus tagged with its own label names (`--labels`)
    by the candidate ensemble in the run's settings, with the built-in pool's demonstrations (other
    types, shown under the user's schema) and with none (zero-shot); strict F1 per corpus and pooled.
    Lean records (types as written at extraction, the vote of models.toml's defaults), kept with the others."""
    from el4ner_local.evaluation.cache import RecordCache
    from el4ner_local.evaluation.records import recording_tagger, run_records
    from el4ner_local.evaluation.scoring import Counts, rescore
    from el4ner_local.pipeline.votes import VoteRule
    from el4ner_local.retrieval import open_default_index

    builtin = open_default_index()
    pooled: dict[str, Counts] = {}
    for corpus in args.corpus or list(SPLITS[args.split]):
        chosen = corpus_sample(args.split, corpus, max(STEPS[-1], args.limit))[: args.limit]
        names = pool_of(corpus).labels
        for way, index, retrieval in (("built-in pool", builtin, "span"), ("zero-shot", None, "none")):
            tagger = recording_tagger(
                index,
                retrieval,
                models=MODELS,
                labels=names,
                threads=args.threads,
                overrides=RUNS[args.run],
                stages="lean",
            )
            rc = RecordCache.for_tagger(tagger, retrieval, CACHE)
            todo = sum(rc.get(s.text) is None for s in chosen)
            if todo:
                log(f"{args.split} {corpus} [{way}]: {todo} to record -> {rc.path.name}")
            entries = run_records(
                tagger, chosen, rc, progress=lambda i, n, hit, c=corpus: None if hit else log(f"  {c} {i}/{n}")
            )
            rule = VoteRule.from_settings(tagger.settings, [m.name for m in tagger.models])
            c = rescore(entries, chosen, rule).counts
            total = pooled.setdefault(way, Counts())
            total.tp, total.pred, total.gold = total.tp + c.tp, total.pred + c.pred, total.gold + c.gold
            p, r, f = Counts.prf(c.tp, c.pred, c.gold)
            print(
                f"{args.split} {corpus} {way:14s} {len(chosen)} sentences: P {100 * p:5.1f} R {100 * r:5.1f} F1 {100 * f:5.1f}"
            )
    for way, total in pooled.items():
        p, r, f = Counts.prf(total.tp, total.pred, total.gold)
        print(f"pooled {way:14s}: P {100 * p:5.1f} R {100 * r:5.1f} F1 {100 * f:5.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("record", "status", "score", "choose", "labels"):
        p = sub.add_parser(name)
        p.add_argument("--split", choices=list(SPLITS), default="dev")
        p.add_argument("--run", choices=list(RUNS), default="whole-k4")
        p.add_argument("--corpus", action="append", choices=list(POOLS))
    for name in ("record", "labels"):
        sub.choices[name].add_argument("--limit", type=int, default=200)
        sub.choices[name].add_argument("--threads", type=int, default=2, help="CPU threads per model")
    args = ap.parse_args()
    {"record": record, "status": status, "score": score, "choose": choose, "labels": labels}[args.cmd](args)


if __name__ == "__main__":
    main()
