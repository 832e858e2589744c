"""Records for choosing the defaults (issue 14): every member's answers at every stage but verification,
on the shared corpora's dev splits (to choose) and test splits (to report), kept in the repository.

    python scripts/accuracy.py record --split dev --limit 200 [--corpus NAME] [--threads 2]
    python scripts/accuracy.py status [--split dev]        # how much is recorded
    python scripts/accuracy.py score [--split dev]         # rules rescored on the recorded prefixes
    python scripts/accuracy.py choose [--split dev]        # the defaults for an untuned pool (below)
    python scripts/accuracy.py labels --split dev --limit 50   # labelling without a pool (below)
    python scripts/accuracy.py record --split test --profile fast   # the fast profile, for its cost and F1
    python scripts/accuracy.py report [--split test]       # docs/accuracy.md from what is recorded, no model call

Recorded with the models of scripts/candidate_models.toml, k and demo_words of the run (RUNS), extraction types and
stage-3 log-probability types (so every type source and vote rule is rescored from them without a
model call). The records live in docs/eval-cache/records, committed as they grow: a long recording is
spread over sessions and a stop loses nothing. The demonstration indexes beside them are rebuilt
from the pools (git ignores them).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = (ROOT / ".." / "shared" / "data").resolve()
CACHE = ROOT / "docs" / "eval-cache"
MODELS = ROOT / "scripts" / "candidate_models.toml"  # the default members and Qwen2.5-Coder-1.5B
PAGE = ROOT / "docs" / "accuracy.md"
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
# "accurate": the candidate ensemble in the run's settings, typed records; "fast": the built-in models.toml's
# [profiles.fast] as it stands (its models, k and demonstrations), lean records (extraction types only)
PROFILES = ("accurate", "fast")


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def tagger_for(index, run: str, threads: int | None = None, profile: str = "accurate"):
    from el4ner_local.config import DEFAULT_MODELS_FILE
    from el4ner_local.evaluation.cache import RecordCache
    from el4ner_local.evaluation.records import recording_tagger

    if profile == "fast":  # the profile's own settings: the run's do not apply
        tagger = recording_tagger(
            index, "span", models=DEFAULT_MODELS_FILE, profile="fast", threads=threads, stages="lean"
        )
    else:
        tagger = recording_tagger(index, "span", models=MODELS, threads=threads, overrides=RUNS[run], stages="typed")
    return tagger, RecordCache.for_tagger(tagger, "span", CACHE)


def fast_rule():
    """The vote of the built-in [profiles.fast] (its weights; the records hold uniform ones)."""
    from el4ner_local.config import DEFAULT_MODELS_FILE, load_config
    from el4ner_local.pipeline.votes import VoteRule

    config = load_config(DEFAULT_MODELS_FILE, "fast")
    return VoteRule.from_settings(config.pipeline, [m.name for m in config.models])


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
                loaded[corpus] = (chosen, *tagger_for(pool_of(corpus), args.run, args.threads, args.profile))
            chosen, tagger, rc = loaded[corpus]
            todo = [s for s in chosen[:n] if rc.get(s.text) is None]
            if not todo:
                continue
            what = args.run if args.profile == "accurate" else f"profile {args.profile}"
            log(f"{args.split} {corpus} [{what}] prefix {n}: {len(todo)} to record -> {rc.path.name}")
            run_records(
                tagger,
                chosen[:n],
                rc,
                progress=lambda i, total, hit, c=corpus: None if hit else log(f"  {c} {i}/{total}"),
            )


def status(args) -> None:
    for corpus in SPLITS[args.split]:
        entries, _, _ = recorded(args.split, corpus, args.run, args.profile)
        what = args.run if args.profile == "accurate" else f"profile {args.profile}"
        print(f"{args.split} {corpus} [{what}]: first {len(entries)} of the sample recorded")


def prefix(rc, chosen) -> tuple[list[dict], list]:
    """The records of the longest recorded prefix of a sample, and its gold sentences."""
    n = next((i for i, s in enumerate(chosen) if rc.get(s.text) is None), len(chosen))
    return [rc.get(s.text) for s in chosen[:n]], chosen[:n]


def recorded(split: str, corpus: str, run: str, profile: str = "accurate", names: bool = False):
    """The longest recorded prefix of the corpus's sample: (entries, gold sentences, members). `names`: each
    entry carries the matches of its pool's names (scoring.with_lexicon), so a rule with `lexicon` on
    accepts them as the tagger does."""
    from el4ner_local.evaluation.scoring import with_lexicon
    from el4ner_local.pipeline.lexicon import Lexicon

    index = pool_of(corpus)
    tagger, rc = tagger_for(index, run, profile=profile)
    entries, gold = prefix(rc, corpus_sample(split, corpus, STEPS[-1]))
    if names:
        entries = with_lexicon(entries, gold, Lexicon.from_pool(index.demonstration_pool()))
    return entries, gold, [m.name for m in tagger.models]


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

    base = VoteRule(
        extract_min_votes=1, type_source="extract", verify=False, weights={}, lexicon=False, lexicon_filter=False
    )
    data = {}
    for corpus in args.corpus or list(SPLITS[args.split]):
        entries, gold, members = recorded(args.split, corpus, args.run, names=True)
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
    print(f"  rule for models.toml's [pipeline] {json.dumps(default.to_json())}")
    print(
        "per corpus (F1): members alone | union | pooled choice | chosen on the other corpora | tuned on itself (2-fold)"
    )
    for corpus, (c_entries, c_gold, _) in data.items():
        # the members alone and the union with the pool's names as the choice has them: the fair comparison
        named = replace(base, lexicon=default.lexicon, lexicon_filter=default.lexicon_filter)
        alone = {m: rescore(c_entries, c_gold, named, [m]).counts.f1 for m in members}
        union = rescore(c_entries, c_gold, named).counts.f1
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


def labels_taggers(corpus: str, run: str, threads: int | None = None):
    """(way, tagger, record cache) of the corpus's label names with the built-in pool and zero-shot."""
    from el4ner_local.evaluation.cache import RecordCache
    from el4ner_local.evaluation.records import recording_tagger
    from el4ner_local.retrieval import open_default_index

    names = pool_of(corpus).labels
    out = []
    for way, index, retrieval in (("built-in pool", open_default_index(), "span"), ("zero-shot", None, "none")):
        tagger = recording_tagger(
            index, retrieval, models=MODELS, labels=names, threads=threads, overrides=RUNS[run], stages="lean"
        )
        out.append((way, tagger, RecordCache.for_tagger(tagger, retrieval, CACHE)))
    return out


def labels(args) -> None:
    """Labelling without a pool of one's own: each corpus tagged with its own label names (`--labels`)
    by the candidate ensemble in the run's settings, with the built-in pool's demonstrations (other
    types, shown under the user's schema) and with none (zero-shot); strict F1 per corpus and pooled.
    Lean records (types as written at extraction), scored by the union with uniform weights (the recording
    settings' vote, not models.toml's weighted one), kept with the others."""
    from el4ner_local.evaluation.records import run_records
    from el4ner_local.evaluation.scoring import Counts, rescore
    from el4ner_local.pipeline.votes import VoteRule

    pooled: dict[str, Counts] = {}
    for corpus in args.corpus or list(SPLITS[args.split]):
        chosen = corpus_sample(args.split, corpus, max(STEPS[-1], args.limit))[: args.limit]
        for way, tagger, rc in labels_taggers(corpus, args.run, args.threads):
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


def pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:.1f}"  # NaN: nothing to score


def dec3(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def prf_cell(c) -> str:
    """'P / R / **F1**' of counts (tp, pred, gold)."""
    from el4ner_local.evaluation.scoring import Counts

    if c is None:
        return "not recorded"
    p, r, f = Counts.prf(*c)
    return f"{pct(p)} / {pct(r)} / **{pct(f)}**"


def f1_of(c) -> float:
    from el4ner_local.evaluation.scoring import Counts

    return Counts.prf(*c)[2] if c is not None else float("nan")


def counts_of(res) -> tuple[int, int, int]:
    return res.counts.tp, res.counts.pred, res.counts.gold


def summed(items) -> tuple[int, int, int] | None:
    items = [c for c in items if c is not None]
    return (sum(c[0] for c in items), sum(c[1] for c in items), sum(c[2] for c in items)) if items else None


def cost(entries, models=None, classify: bool = True) -> dict:
    """Seconds and tokens per sentence of `models` (None: all) from the records (scoring.throughput):
    what no model ran (retrieval, parsing) counts whole, the model stages of `models` only; without
    `classify`, the stage-3 and stage-4 answers are left out (a rule on extraction types runs no stage 3)."""
    from el4ner_local.evaluation.scoring import throughput

    t = throughput(entries)
    if not t:
        return dict.fromkeys(("seconds", "median", "evaluated", "generated"), float("nan"))
    per = [(stage, m, st) for stage, ms in t["tokens_per_sentence"].items() for m, st in ms.items()]
    used = [
        st
        for stage, m, st in per
        if (models is None or m in models) and (classify or not stage.startswith(("3-", "4-")))
    ]
    outside = t["seconds_per_sentence"] - sum(st["seconds"] for _, _, st in per)
    return {
        "seconds": outside + sum(st["seconds"] for st in used),
        # the first sentence of a recording session also loads the models and the embedder: the median is not moved
        "median": statistics.median(cost([e], models, classify)["seconds"] for e in entries)
        if len(entries) > 1
        else outside + sum(st["seconds"] for st in used),
        "evaluated": sum(st["evaluated"] for st in used),
        "generated": sum(st["generated"] for st in used),
    }


def describe(rule) -> str:
    weights = ", ".join(f"{m} {w:.2f}" for m, w in sorted(rule.weights.items())) or "uniform"
    cal = f"{len(rule.calibration.points)}-point calibration" if rule.calibration else "no calibration"
    cal = f"confidence from `{rule.confidence_source}`, {cal}"  # where its type probability comes from
    return (
        f"{rule.extract_min_votes} extraction vote(s), type source `{rule.type_source}`, "
        f"weights {weights}, {cal}, no verification, the pool's names {'on' if rule.lexicon else 'off'}, "
        f"its unlabelled words {'rejected' if rule.lexicon_filter else 'kept'}"
    )


def report(args) -> None:
    """docs/accuracy.md and its F1-vs-cost plot from what is recorded now, without a model call: the rule
    `choose` picks on the dev records (pooled) scored on the split next to the members alone, the union and
    a per-pool tuning cross-fitted within each corpus; the check that the ensemble beats its best member by
    3 points; cost per sentence of the profiles; the calibration on the pooled split; `--labels` without a pool."""
    import subprocess
    from dataclasses import replace

    from el4ner_local.evaluation.scoring import rescore
    from el4ner_local.evaluation.svg_plot import scatter_svg
    from el4ner_local.evaluation.tuning import choose as choose_rule
    from el4ner_local.evaluation.tuning import judged
    from el4ner_local.pipeline.calibration import expected_calibration_error, reliability_table
    from el4ner_local.pipeline.votes import VoteRule

    split, target = args.split, STEPS[-1]
    base = VoteRule(
        extract_min_votes=1, type_source="extract", verify=False, weights={}, lexicon=False, lexicon_filter=False
    )
    log("reading the records")
    dev = {c: d for c in SPLITS["dev"] if (d := recorded("dev", c, args.run, names=True))[0]}
    if not dev:
        sys.exit("no dev records to choose a rule on: python scripts/accuracy.py record --split dev")
    data = dev if split == "dev" else {c: recorded(split, c, args.run, names=True) for c in SPLITS[split]}
    corpora = list(SPLITS[split])
    members = next(iter(dev.values()))[2]

    def pooled(parts, names):
        return [e for c in names for e in parts[c][0]], [g for c in names for g in parts[c][1]]

    log("choosing the rule on the pooled dev records")
    dev_entries, dev_gold = pooled(dev, dev)
    tuned = choose_rule(dev_entries, dev_gold, members, base)
    rule = replace(tuned.rule, label_thresholds={})  # labels differ by pool: no per-label default
    # the members alone and the union with what the rule takes from the pool's words
    named = replace(base, lexicon=rule.lexicon, lexicon_filter=rule.lexicon_filter)
    n = {c: len(data[c][0]) for c in corpora}
    ents = {c: sum(len(g.spans) for g in data[c][1]) for c in corpora}
    have = [c for c in corpora if n[c]]

    # strict micro counts per system and corpus
    systems: dict[str, dict[str, tuple | None]] = {f"{m} alone": {} for m in members}
    systems["union (1 vote, extraction types)"] = {}
    systems["**ensemble, rule chosen on dev**"] = {}
    if split == "dev":
        systems["rule chosen on the other three corpora (dev)"] = {}
    systems["per-pool tuned (2-fold within the corpus)"] = {}
    own: dict[str, dict] = {}
    for c in have:
        log(f"scoring {split} {c}")
        entries, gold, _ = data[c]
        for m in members:
            systems[f"{m} alone"][c] = counts_of(rescore(entries, gold, named, [m]))
        systems["union (1 vote, extraction types)"][c] = counts_of(rescore(entries, gold, named))
        systems["**ensemble, rule chosen on dev**"][c] = counts_of(rescore(entries, gold, rule))
        if split == "dev":
            others = [o for o in dev if o != c]
            if others:
                moved = replace(choose_rule(*pooled(dev, others), members, base).rule, label_thresholds={})
                systems["rule chosen on the other three corpora (dev)"][c] = counts_of(rescore(entries, gold, moved))
        own[c] = choose_rule(entries, gold, members, base).report
        crossed = own[c]["cross_fitted"].get("counts")
        systems["per-pool tuned (2-fold within the corpus)"][c] = (
            (crossed["tp"], crossed["pred"], crossed["gold"]) if crossed else None
        )
    for by in systems.values():
        by["pooled"] = summed(by.get(c) for c in have)

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    total_n = sum(n.values())
    size = ", ".join(f"{c} {n[c]}" for c in corpora)
    dev_size = ", ".join(f"{c} {len(dev[c][0]) if c in dev else 0}" for c in SPLITS["dev"])
    partial = [c for c in corpora if n[c] < target]
    out = [
        "# Accuracy of the ensemble (issue 14)",
        "",
        f"Written by `python scripts/accuracy.py report --split {split}` at commit {commit.stdout.strip() or '?'} "
        f"({time.strftime('%Y-%m-%d')}) from the records in `docs/eval-cache/records` (no model call). "
        f"Strict micro F1: a span counts when its start, end and type are those of a gold span. "
        f"Members: {', '.join(members)} (`scripts/candidate_models.toml`); run `{args.run}` "
        f"({', '.join(f'{k} = {v}' for k, v in RUNS[args.run].items())}), span retrieval from each corpus's "
        "training split. The older pipeline's page is docs/results.md.",
        "",
    ]
    if partial:
        out += [
            f"> **PARTIAL SAMPLE.** The target is {target} {split} sentences per corpus; recorded now: {size} "
            f"({total_n} in all). With a few dozen sentences a corpus's F1 moves by several points from one "
            "sample to the next: read the per-corpus numbers as rough, the pooled ones as less so.",
            "",
        ]
    else:
        out += [f"Sample: {target} {split} sentences per corpus ({size}).", ""]

    # 1. the rule
    rep = tuned.report
    out += [
        f"## The rule chosen on dev (n = {rep['sentences']} dev sentences, {rep['gold_entities']} entities)",
        "",
        f"`choose` over the dev records of the four corpora pooled ({dev_size} sentences) picks: "
        f"{describe(rule)}. Its F1 on those records is {pct(rep['chosen']['f1'])} (in-sample); the whole "
        f"choice cross-fitted on them (chosen on one half, scored on the other) scores "
        f"{pct(rep['cross_fitted'].get('f1', float('nan')))}. Per-label thresholds it would add on dev "
        f"({', '.join(f'{k} {v}' for k, v in rep['thresholds']['kept'].items()) or 'none'}) are dropped: "
        "another pool has other labels.",
        "",
    ]
    if split == "dev":
        out += [
            "> **On dev the rule is scored on the records it was chosen on**: its row flatters it. "
            "The row 'rule chosen on the other three corpora (dev)' is the honest one (leave one corpus out).",
            "",
        ]
    if not have:  # nothing to score on this split yet
        out += [
            f"**Nothing is recorded on the {split} split yet**: `python scripts/accuracy.py record --split {split}` "
            f"(and `--profile fast`, and `labels --split {split}`), then `report --split {split}` again.",
            "",
        ]
        args.out.write_text("\n".join(out), encoding="utf-8")
        log(f"wrote {args.out} (no {split} records)")
        return

    # 2. per corpus and pooled
    head = [f"{c} (n = {n[c]} sent., {ents[c]} ent.)" for c in corpora] + [
        f"pooled (n = {total_n} sent., {sum(ents.values())} ent.)"
    ]
    out += [
        f"## Per corpus and pooled, {split} split: P / R / **F1**",
        "",
        "| system | " + " | ".join(head) + " |",
        "|---|" + "---|" * len(head),
    ]
    for name, by in systems.items():
        out.append(f"| {name} | " + " | ".join(prf_cell(by.get(c)) for c in [*corpora, "pooled"]) + " |")
    out += [
        "",
        "Union: every span any member extracted, its type by the weighted vote of the types written at "
        "extraction. Per-pool tuned: `choose` (as `index tune` runs it) on one half of the corpus's sample, "
        "scored on the other half, both ways; what tuning on a labelled sample of one's own pool gives.",
        "",
    ]

    # 3. the check
    ens = systems["**ensemble, rule chosen on dev**"]
    tuned_row = systems["per-pool tuned (2-fold within the corpus)"]
    rows, fails = [], []
    for c in [*have, "pooled"]:
        alone = {m: f1_of(systems[f"{m} alone"][c]) for m in members}
        best = max(alone, key=alone.__getitem__)
        margin = 100 * (f1_of(ens[c]) - alone[best])
        t_margin = 100 * (f1_of(tuned_row[c]) - alone[best])
        if margin < 3 and c != "pooled":
            fails.append(c)
        rows.append(
            f"| {c} | {n[c] if c != 'pooled' else total_n} | {best} | {pct(alone[best])} | {pct(f1_of(ens[c]))} "
            f"| {margin:+.1f} | {'yes' if margin >= 3 else '**no**'} | {pct(f1_of(tuned_row[c]))} "
            f"| {'—' if t_margin != t_margin else f'{t_margin:+.1f}'} |"
        )
    verdict = (
        f"Not on every corpus: it fails on {', '.join(fails)}."
        if fails
        else f"Yes, on each of the {len(have)} corpora recorded."
    )
    out += [
        f"## Does the ensemble beat its best member by 3 points or more? ({split}, sample sizes as above)",
        "",
        f"{verdict} (Strict F1 points; the best member is chosen per corpus after the fact, which favours it.)",
        "",
        "| corpus | sentences | best member alone | its F1 | ensemble (dev rule) F1 | margin | >= 3? "
        "| per-pool tuned F1 | margin |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]

    # 4. per-pool tuning
    out += [
        f"## Per-pool tuning (`index tune`, evaluation/tuning.py) on each corpus's {split} sample",
        "",
        "| corpus | sentences | rule it picks (in-sample) | in-sample F1 | cross-fitted F1 | dev rule F1 "
        "| ECE cross-fitted, raw -> calibrated |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in have:
        r, crossed = own[c], own[c]["cross_fitted"]
        pick = r["chosen"]
        out.append(
            f"| {c} | {n[c]} | {pick['extract_min_votes']} vote(s), `{pick['type_source']}`, {pick['weights']} weights "
            f"| {pct(r['f1'])} | {pct(crossed.get('f1', float('nan')))} | {pct(f1_of(ens[c]))} "
            f"| {dec3(crossed.get('ece_before'))} -> {dec3(crossed.get('ece_after'))} |"
        )
    out += [""]

    # 5. profiles and cost
    log("cost per sentence")
    all_entries, all_gold = pooled(data, have)
    # stage 3 runs for a type source other than extraction, or for its confidence (pipeline/stages.py)
    classify = rule.type_source != "extract" or rule.confidence_source == "classify"
    points = []
    cost_rows = []
    for m in members:
        k = cost(all_entries, [m], classify=False)
        f = f1_of(systems[f"{m} alone"]["pooled"])
        cost_rows.append((f"{m} alone", total_n, k, f))
        points.append((m, k["seconds"], 100 * f))
    k = cost(all_entries, classify=False)
    cost_rows.append(("union", total_n, k, f1_of(systems["union (1 vote, extraction types)"]["pooled"])))
    points.append(("union", k["seconds"], 100 * cost_rows[-1][3]))
    k = cost(all_entries, classify=classify)
    cost_rows.append(("**accurate** (ensemble, dev rule)", total_n, k, f1_of(ens["pooled"])))
    points.append(("accurate", k["seconds"], 100 * f1_of(ens["pooled"])))
    fast = {c: recorded(split, c, args.run, "fast") for c in corpora}
    fast_rule_ = fast_rule()
    both = {c: min(len(fast[c][0]), n[c]) for c in corpora}
    compared = [c for c in corpora if both[c]]
    if compared:
        f_entries = [e for c in compared for e in fast[c][0][: both[c]]]
        f_counts = summed(
            counts_of(rescore(fast[c][0][: both[c]], fast[c][1][: both[c]], fast_rule_)) for c in compared
        )
        a_entries = [e for c in compared for e in data[c][0][: both[c]]]
        a_counts = summed(counts_of(rescore(data[c][0][: both[c]], data[c][1][: both[c]], rule)) for c in compared)
        same = sum(both.values())
        cost_rows.append(("**fast** profile", same, cost(f_entries), f1_of(f_counts)))
        cost_rows.append(
            ("accurate, on the fast profile's sentences", same, cost(a_entries, classify=classify), f1_of(a_counts))
        )
        points.append((f"fast (n = {same})", cost_rows[-2][2]["seconds"], 100 * f1_of(f_counts)))
    fast_note = (
        "The fast profile (built-in `[profiles.fast]`: "
        + ", ".join(fast[corpora[0]][2])
        + "; k = 2, demonstrations cut to ~12 words, extraction types): "
        + (
            "recorded on " + ", ".join(f"{c} {both[c]}" for c in compared) + " sentences, compared with the "
            "accurate profile on those same sentences."
            if compared
            else f"**not recorded** on the {split} split "
            f"(`python scripts/accuracy.py record --split {split} --profile fast`)."
        )
    )
    out += [
        f"## Profiles and their cost ({split}, pooled over the corpora)",
        "",
        "| system | sentences | seconds / sentence (mean) | median | prompt tokens / sentence "
        "| generated tokens / sentence | F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, count, k, f in cost_rows:
        out.append(
            f"| {name} | {count} | {k['seconds']:.1f} | {k['median']:.1f} | {k['evaluated']:.0f} | {k['generated']:.0f} "
            f"| {pct(f)} |"
        )
    if not compared:
        out.append(
            "| **fast** profile | 0 | not recorded | not recorded | not recorded | not recorded | not recorded |"
        )
    out += [
        "",
        fast_note,
        "",
        "Seconds and tokens are those measured when each sentence was recorded (the records' `seconds` and "
        "`stats`, scoring.throughput): a member alone counts its own model calls plus what runs outside the "
        "models (retrieval, parsing); a rule on extraction types with the vote's confidence leaves stage 3 "
        "out, which the records ran for every type source. The recordings shared a 2-core CPU with other jobs, so the seconds are "
        "inflated and only comparable within this page (docs/speed.md measures speed on its own); the first "
        "sentence of each recording session also loads the models and the embedder, which the mean counts "
        "and the median hardly does. The plot shows the means.",
        "",
        f"![F1 against seconds per sentence]({args.out.stem}-cost.svg)",
        "",
    ]

    # 6. calibration
    log("calibration")
    res_raw = rescore(all_entries, all_gold, replace(rule, calibration=None))
    res_cal = rescore(all_entries, all_gold, rule)
    raw = [(conf, ok) for conf, ok, _ in judged(res_raw, all_gold)]
    cal = [(conf, ok) for conf, ok, _ in judged(res_cal, all_gold)]

    def ece(pairs):
        return expected_calibration_error([c for c, _ in pairs], [ok for _, ok in pairs])

    out += [
        f"## Calibration of the confidence ({split}, pooled: {total_n} sentences, {len(raw)} accepted spans)",
        "",
        f"The ensemble's accepted spans, dev rule: expected calibration error (10 equal bins) "
        f"{ece(raw):.3f} for the raw confidence, {ece(cal):.3f} with the calibration fitted on dev"
        + (
            " (in-sample on dev: near 0 by construction; the cross-fitted ECE on dev is "
            f"{dec3(rep['cross_fitted'].get('ece_before'))} raw -> "
            f"{dec3(rep['cross_fitted'].get('ece_after'))} calibrated)."
            if split == "dev"
            else "."
        ),
        "",
        "| confidence bin | spans (raw) | mean confidence | share right | spans (calibrated) | mean confidence "
        "| share right |",
        "|---|---|---|---|---|---|---|",
    ]
    table_raw = reliability_table([c for c, _ in raw], [ok for _, ok in raw])
    table_cal = reliability_table([c for c, _ in cal], [ok for _, ok in cal])
    for a, b in zip(table_raw, table_cal, strict=True):
        if a["n"] or b["n"]:
            out.append(
                f"| {a['lo']:.1f}–{a['hi']:.1f} | {a['n']} | {dec3(a['mean_confidence'])} | {dec3(a['share_right'])} "
                f"| {b['n']} | {dec3(b['mean_confidence'])} | {dec3(b['share_right'])} |"
            )
    out += [""]

    # 7. --labels without a pool
    log("labels without a pool")
    out += [
        f"## Labelling with `--labels` and no pool of one's own ({split})",
        "",
        "Each corpus tagged with its own label names by the same members and run, with the built-in pool's "
        "demonstrations (WNUT-17 sentences shown under the corpus's labels) and with none (zero-shot); union "
        "with extraction types, the same rule as the union row above. Compared on the sentences all three "
        "have recorded.",
        "",
        "| corpus | sentences compared | own pool (union) | built-in pool | zero-shot |",
        "|---|---|---|---|---|",
    ]
    label_rows: dict[str, list] = {"own": [], "built-in pool": [], "zero-shot": []}
    label_sentences = 0
    for c in corpora:
        sample = corpus_sample(split, c, target)
        ways = {way: prefix(rc, sample)[0] for way, _, rc in labels_taggers(c, args.run)}
        recorded_ways = {"own": n[c], **{w: len(e) for w, e in ways.items()}}
        common = min(v for v in recorded_ways.values())
        if not common:
            cells = [f"{v} recorded, nothing to compare with" if v else "not recorded" for v in recorded_ways.values()]
            out.append(f"| {c} | 0 | " + " | ".join(cells) + " |")
            continue
        gold = data[c][1][:common]
        row = {"own": counts_of(rescore(data[c][0][:common], gold, base))}
        for way, entries in ways.items():
            row[way] = counts_of(rescore(entries[:common], gold, base))
        for way, cnt in row.items():
            label_rows[way].append(cnt)
        label_sentences += common
        out.append(f"| {c} | {common} | " + " | ".join(prf_cell(row[w]) for w in label_rows) + " |")
    if label_rows["own"]:
        out.append(
            f"| pooled | {label_sentences} | " + " | ".join(prf_cell(summed(label_rows[w])) for w in label_rows) + " |"
        )
    out += [""]

    # what is missing
    missing = [f"{c}: {n[c]} of {target} {split} sentences" for c in partial]
    if not compared:
        missing.append(f"the fast profile on the {split} split")
    if missing:
        out += ["## Not recorded yet", "", *[f"- {m}" for m in missing], ""]

    args.out.write_text("\n".join(out), encoding="utf-8")
    svg = scatter_svg(
        points,
        x_label="seconds per sentence (shared 2-core CPU)",
        y_label="strict F1 (pooled)",
        title=f"F1 against cost, {split} ({total_n} sentences)",
    )
    args.out.with_name(f"{args.out.stem}-cost.svg").write_text(svg, encoding="utf-8")
    log(f"wrote {args.out} and {args.out.stem}-cost.svg")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("record", "status", "score", "choose", "labels", "report"):
        p = sub.add_parser(name)
        p.add_argument("--split", choices=list(SPLITS), default="dev")
        p.add_argument("--run", choices=list(RUNS), default="whole-k4")
        if name != "report":  # the page covers every corpus
            p.add_argument("--corpus", action="append", choices=list(POOLS))
    for name in ("record", "labels"):
        sub.choices[name].add_argument("--limit", type=int, default=200)
        sub.choices[name].add_argument("--threads", type=int, default=2, help="CPU threads per model")
    for name in ("record", "status"):
        sub.choices[name].add_argument("--profile", choices=PROFILES, default="accurate")
    sub.choices["report"].add_argument("--out", type=Path, default=PAGE, help="the page (the plot goes beside it)")
    args = ap.parse_args()
    commands = {"record": record, "status": status, "score": score, "choose": choose, "labels": labels}
    {**commands, "report": report}[args.cmd](args)


if __name__ == "__main__":
    main()
