"""Run the evaluation on the four shared corpora and write docs/results.md from the record cache.

    python scripts/results.py run [--plan default] [--limit 200]   # model runs (resumable, cached)
    python scripts/results.py report                                # rescoring only: docs/results.md + JSON

`run` works through a plan of (corpus, retrieval mode, sample size) steps in order, interleaving the
corpora with growing sample prefixes (the sample is prefix-stable), so that an interrupted run leaves
every corpus with a comparable sample. `report` uses, for each corpus and mode, the longest prefix of
the sample that is fully recorded, and compares modes only on the sentences all of them have.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = (ROOT / ".." / "shared" / "data").resolve()
CORPORA = {
    "WNUT-17": (DATA / "wnut17" / "emerging.test.annotated", DATA / "wnut17" / "wnut17train.conll"),
    "NCBI-disease": (DATA / "ncbi_disease" / "test.tsv", DATA / "ncbi_disease" / "train.tsv"),
    "CrossNER politics": (DATA / "crossner" / "politics" / "test.txt", DATA / "crossner" / "politics" / "train.txt"),
    "CrossNER science": (DATA / "crossner" / "science" / "test.txt", DATA / "crossner" / "science" / "train.txt"),
}
SEED = 0
# Settings that differ from models.toml for these runs (none: the page describes the defaults).
OVERRIDES: dict = {}
ABLATION_CORPORA = ("CrossNER politics", "WNUT-17")  # politics first: about 6 entities a sentence


def plan(limit: int) -> list[tuple[str, str, int]]:
    """Corpora interleaved, sample prefixes growing, retrieval ablations slotted in between."""
    abl = ("none", "random", "sentence")
    steps = [(c, "span", 3) for c in CORPORA] + [(c, "span", 5) for c in CORPORA]
    steps += [(ABLATION_CORPORA[0], m, n) for n in (3, 5) for m in abl]
    steps += [(c, "span", 10) for c in CORPORA]
    steps += [(ABLATION_CORPORA[1], m, 5) for m in abl]
    steps += [(c, "span", 15) for c in CORPORA]
    steps += [(c, m, 10) for c in ABLATION_CORPORA for m in abl]
    for n in (20, 25):
        steps += [(c, "span", n) for c in CORPORA]
    steps += [(c, m, n) for n in (15, 20, 25) for c in ABLATION_CORPORA for m in abl]
    for n in range(50, limit + 1, 25):
        steps += [(c, "span", n) for c in CORPORA]
    return steps


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def run(args) -> None:
    from el4ner_local.evaluate import RecordCache, make_tagger, pool_index, run_records, sample
    from el4ner_local.formats import read_labelled

    cache: dict = {}
    for corpus, mode, n in plan(args.limit):
        if (args.corpus and corpus not in args.corpus) or (args.modes and mode not in args.modes.split(",")):
            continue
        test, pool = CORPORA[corpus]
        if corpus not in cache:
            cache[corpus] = (read_labelled(test), pool_index(pool, progress=log))
        gold, index = cache[corpus]
        tagger = make_tagger(index, mode, threads=args.threads, overrides=OVERRIDES)
        rc = RecordCache.for_tagger(tagger, mode)
        chosen = sample(gold, n, SEED)
        todo = sum(1 for s in chosen if rc.get(s.text) is None)
        if not todo:
            continue
        log(f"{corpus} [{mode}] sample {n}: {todo} to run -> {rc.path.name}")
        t0 = time.perf_counter()
        run_records(tagger, chosen, rc, progress=lambda i, total, hit: None if hit else log(f"  {corpus} [{mode}] {i}/{total}"))
        log(f"{corpus} [{mode}] sample {n} done in {time.perf_counter() - t0:.0f} s")


# ---------------------------------------------------------------------------------------------
# report: rescoring only


def recorded_prefix(rc, chosen) -> int:
    n = 0
    for s in chosen:
        if rc.get(s.text) is None:
            break
        n += 1
    return n


def pct(x) -> str:
    return f"{100 * x:.1f}"


def prf_of(counts) -> tuple[float, float, float]:
    from el4ner_local.evaluate import Counts

    return Counts.prf(*counts)


def load_corpus(corpus: str, limit: int):
    """The sample and, per retrieval mode, the recorded prefix of it."""
    from el4ner_local.evaluate import RecordCache, make_tagger, pool_index, sample
    from el4ner_local.formats import read_labelled

    test, pool = CORPORA[corpus]
    gold = read_labelled(test)
    chosen = sample(gold, limit, SEED)
    index = pool_index(pool)
    runs = {}
    for mode in ("span", "none", "random", "sentence"):
        tagger = make_tagger(index, mode, overrides=OVERRIDES)
        rc = RecordCache.for_tagger(tagger, mode)
        n = recorded_prefix(rc, chosen)
        if n:
            runs[mode] = {"entries": [rc.get(s.text) for s in chosen[:n]], "gold": chosen[:n], "file": rc.path.name}
    members = [m.name for m in tagger.models]
    return {"gold_all": len(gold), "index": index, "runs": runs, "members": members,
            "models": [{"name": m.name, "sha256": m.spec.source.sha256, "file": m.spec.source.file} for m in tagger.models]}


def grid_rules_of(members):
    from el4ner_local.evaluate import rule_grid

    return {n: (r, v, zs) for n, r, v, zs in rule_grid(members, {"loco": {}})}


def report(args) -> None:
    from el4ner_local.config import load_config
    from el4ner_local.evaluate import (ablations, eval_dir, git_commit, grid_counts, rule_dict,
                                       rule_grid, score_entries, throughput)
    from el4ner_local.pipeline.tagger import rule_from
    from el4ner_local.pipeline.votes import VoteRule

    default_rule = rule_from(load_config(None).pipeline)
    data = {c: load_corpus(c, args.limit) for c in CORPORA if not args.corpus or c in args.corpus}
    data = {c: d for c, d in data.items() if "span" in d["runs"]}
    members = next(iter(data.values()))["members"]
    out: dict = {"commit": git_commit(), "default_rule": rule_dict(default_rule), "corpora": {}}

    # weights per corpus: each member's F1 alone (no verification) on the OTHER corpora's records, pooled
    alone_counts = {}
    for c, d in data.items():
        e, g = d["runs"]["span"]["entries"], d["runs"]["span"]["gold"]
        from el4ner_local.evaluate import rescore

        base = VoteRule(verify=False)
        alone_counts[c] = {m: rescore(e, g, base, [m], n_models=1).counts for m in members}
    loco = {}
    for c in data:
        f1 = {}
        for m in members:
            tp = sum(alone_counts[o][m].tp for o in data if o != c)
            pred = sum(alone_counts[o][m].pred for o in data if o != c)
            gold_n = sum(alone_counts[o][m].gold for o in data if o != c)
            f1[m] = prf_of((tp, pred, gold_n))[2]
        top = max(f1.values()) or 1.0
        loco[c] = {m: round(max(v / top, 0.05), 3) for m, v in f1.items()}

    pooled = {}
    for m in members:
        pooled[m] = prf_of(tuple(sum(getattr(alone_counts[o][m], k) for o in data) for k in ("tp", "pred", "gold")))[2]
    top = max(pooled.values()) or 1.0
    pooled_weights = {m: round(max(v / top, 0.05), 2) for m, v in pooled.items()}
    grid_results = {}
    for c, d in data.items():
        e, g = d["runs"]["span"]["entries"], d["runs"]["span"]["gold"]
        grid = rule_grid(members, {"loco": loco[c]})
        grid_results[c] = grid_counts(e, g, grid, members)
        log(f"{c}: {len(grid)} rules rescored on {len(e)} sentences")
    names = list(next(iter(grid_results.values())))

    def f1_of(c, name, who="ensemble"):
        row = grid_results[c][name]
        return prf_of(row[who])[2] if who in row else None

    macro = {n: sum(f1_of(c, n) for c in data) / len(data) for n in names}
    member_macro = {m: {n: sum(f1_of(c, n, m) for c in data) / len(data) for n in names if m in grid_results[next(iter(data))][n]}
                    for m in members}
    # the cheapest rule within one F1 point of the top: no verification (stage 4) first, then no zero-shot votes
    # (fewer candidates), then types from extraction (stage 3 not needed), uniform weights, lowest threshold
    top_f1 = max(macro.values())
    GRID = grid_rules_of(members)

    def cost(n):
        r, v, zs = GRID[n]
        return (r.verify, zs, r.type_source != "extract", bool(n.endswith("/loco")), r.extract_min_votes,
                r.classify_threshold, -macro[n])

    best_rule = min((n for n in names if macro[n] >= top_f1 - 0.01), key=cost)
    member_best = {m: max(v, key=v.get) for m, v in member_macro.items()}
    # leave-one-corpus-out choice: pick on three corpora, score on the fourth
    loco_choice = {}
    for c in data:
        others = [o for o in data if o != c]
        pick = max(names, key=lambda n: sum(f1_of(o, n) for o in others))
        loco_choice[c] = {"rule": pick, "f1": f1_of(c, pick)}
    out["grid"] = {"macro_f1": {n: round(v, 4) for n, v in sorted(macro.items(), key=lambda kv: -kv[1])},
                   "best_rule": best_rule, "member_best_rule": member_best, "loco_choice": loco_choice,
                   "loco_weights": loco, "pooled_weights": pooled_weights, "per_corpus": grid_results}
    best, best_verifiers, best_zs = grid_rules_of(members)[best_rule]
    if best_rule.endswith("/loco"):
        best = replace(best, weights=pooled_weights)
    out["recommended"] = {"rule": rule_dict(best), "verifiers": list(best_verifiers) if best_verifiers else [],
                          "zero_shot_votes": best_zs}

    grid_rules = grid_rules_of(members)
    for c, d in data.items():
        span = d["runs"]["span"]
        e, g = span["entries"], span["gold"]
        co = {"sample": len(e), "of": d["gold_all"], "entities": sum(len(s.spans) for s in g), "records": span["file"],
              "pool": {"sentences": len(d["index"]), "spans": d["index"].n_spans}, "labels": d["index"].labels}
        co["ensemble_default"] = score_entries(e, g, default_rule)
        co["members_default"] = {m: score_entries(e, g, replace(default_rule, extract_min_votes=1), [m], [m]) for m in members}
        rule, verifiers, zs = grid_rules[best_rule]
        if best_rule.endswith("/loco"):
            rule = replace(rule, weights=loco[c])
        co["ensemble_best"] = score_entries(e, g, rule, None, verifiers, zs)
        co["members_best"] = {}
        for m in members:
            r, v, mzs = grid_rules[member_best[m]]
            co["members_best"][m] = score_entries(e, g, r, [m], [m] if v is None or m in v else [], mzs)
        co["ablations"] = ablations(e, g, default_rule, members)
        co["throughput"] = throughput(e)
        # retrieval ablations on the sentences every recorded mode has
        floor = min(3, len(d["runs"]["span"]["entries"]))
        modes = {m: r for m, r in d["runs"].items() if len(r["entries"]) >= floor}
        if len(modes) > 1:
            n = min(len(r["entries"]) for r in modes.values())
            co["retrieval"] = {"sentences": n, "modes": {}}
            for mode, r in modes.items():
                ee, gg = r["entries"][:n], r["gold"][:n]
                co["retrieval"]["modes"][mode] = {
                    "default": score_entries(ee, gg, default_rule),
                    "best": score_entries(ee, gg, replace(grid_rules[best_rule][0], weights=loco[c] if best_rule.endswith("/loco") else {}),
                                          None, grid_rules[best_rule][1], grid_rules[best_rule][2]),
                    "members": {m: score_entries(ee, gg, replace(default_rule, extract_min_votes=1), [m], [m]) for m in members},
                    "throughput": throughput(r["entries"])}
        out["corpora"][c] = co
    out["models"] = next(iter(data.values()))["models"]
    json_path = eval_dir() / "results.json"
    json_path.write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")
    args.out.write_text(render(out, members), encoding="utf-8")
    log(f"wrote {args.out} and {json_path}")


def render(out: dict, members: list[str]) -> str:
    """The markdown page."""
    corpora = out["corpora"]
    L = []
    w = L.append
    w("# Results")
    w("")
    w("Produced by `python scripts/results.py report` from the record cache that `python scripts/results.py run` fills "
      "(every model's answer at every stage, recorded once per sentence; all rules below are rescored from those "
      "records with `votes.decide`). Strict entity-level precision / recall / micro-F1 by seqeval (mode strict, IOB2), in %.")
    w("")
    w(f"- Commit: `{out['commit']}`")
    w("- Models: " + "; ".join(f"`{m['name']}` ({m['file']}, sha256 `{m['sha256'][:12]}...`)" for m in out["models"]))
    w(f"- Sample: seed {SEED}; each test split shuffled with `random.Random({SEED})`, first N sentences (`--limit N --seed {SEED}`). "
      "Pool: the corpus's own train split, indexed from its gold spans.")
    w("- Sizes: " + "; ".join(f"{c}: {co['sample']} of {co['of']} test sentences ({co['entities']} entities), "
                               f"pool {co['pool']['sentences']} sentences / {co['pool']['spans']} spans" for c, co in corpora.items()))
    w("")
    secs = [e for co in corpora.values() for e in [co["throughput"].get("seconds_per_sentence", 0)]]
    n_ent = sum(co["entities"] for co in corpora.values())
    w(f"**These are tiny samples ({sum(co['sample'] for co in corpora.values())} sentences, {n_ent} gold entities "
      "over the four corpora), not the 200-sentence runs the issue asks for, which are still to be done.** One sentence "
      f"through the three-model pipeline took {min(secs):.0f} to {max(secs):.0f} s on average per corpus here (2 cores shared "
      "with other jobs). The harness supports `--limit 200`: `python scripts/results.py run --limit 200` extends the same "
      "samples (cached sentences are not rerun) and `python scripts/results.py report` rewrites this page. "
      "At this size one entity moves F1 by several points: every difference below is anecdotal.")
    w("")
    w("Records are taken with classify_threshold 0, every model verifying, union at extraction "
      "(so every label any of these rules accepts was put to the verifiers); see `el4ner_local/evaluate.py`.")
    w("")
    dr = out["default_rule"]
    from el4ner_local.config import load_config

    shown = load_config(None).pipeline
    w(f"## Ensemble vs. members (span retrieval, k = {shown.k}, demonstrations cut to {shown.demo_words or 'all'} words)")
    w("")
    w(f"Default rule (models.toml today): extract_min_votes {dr['extract_min_votes']}, type_source {dr['type_source']}, "
      f"classify_threshold {dr['classify_threshold']}, verify {dr['verify']} at {dr['verify_threshold']}, uniform weights.")
    w(f"Chosen rule: `{out['grid']['best_rule']}`, the cheapest rule whose mean F1 over the corpora is within one "
      f"point of the best of the grid ({pct(max(out['grid']['macro_f1'].values()))}).")
    w("")
    head = "| corpus | n | ensemble, default rule | " + " | ".join(f"{m} alone, default rule" for m in members) +         " | ensemble, chosen rule | " + " | ".join(f"{m} alone, its best rule" for m in members) + " |"
    w(head)
    w("|" + "---|" * (head.count("|") - 1))
    for c, co in corpora.items():
        cells = [f"{pct(co['ensemble_default']['precision'])} / {pct(co['ensemble_default']['recall'])} / **{pct(co['ensemble_default']['f1'])}**"]
        cells += [f"{pct(s['precision'])} / {pct(s['recall'])} / **{pct(s['f1'])}**" for s in co["members_default"].values()]
        cells += [f"{pct(co['ensemble_best']['precision'])} / {pct(co['ensemble_best']['recall'])} / **{pct(co['ensemble_best']['f1'])}**"]
        cells += [f"{pct(s['precision'])} / {pct(s['recall'])} / **{pct(s['f1'])}**" for s in co["members_best"].values()]
        w(f"| {c} | {co['sample']} | " + " | ".join(cells) + " |")
    w("")
    w("Cells are P / R / **F1**. Members' best rules: " + "; ".join(f"{m}: `{r}`" for m, r in out["grid"]["member_best_rule"].items()) + ".")
    w("")
    w("### Does the ensemble beat its best member?")
    w("")
    w("| corpus | ensemble, chosen rule | best member alone (its best rule) | difference |")
    w("|---|---|---|---|")
    tot_e, tot_m = [0, 0, 0], {m: [0, 0, 0] for m in members}
    for c, co in corpora.items():
        best_m = max(co["members_best"], key=lambda m: co["members_best"][m]["f1"])
        e_f1, m_f1 = co["ensemble_best"]["f1"], co["members_best"][best_m]["f1"]
        w(f"| {c} | {pct(e_f1)} | {pct(m_f1)} ({best_m}) | {100 * (e_f1 - m_f1):+.1f} |")
        for i, key in enumerate(("tp", "pred", "gold")):
            tot_e[i] += co["ensemble_best"]["counts"][key]
            for m in members:
                tot_m[m][i] += co["members_best"][m]["counts"][key]
    e_all = prf_of(tot_e)[2]
    m_all = {m: prf_of(v)[2] for m, v in tot_m.items()}
    top = max(m_all, key=m_all.get)
    w(f"| all corpora pooled (micro) | {pct(e_all)} | {pct(m_all[top])} ({top}) | {100 * (e_all - m_all[top]):+.1f} |")
    w("")
    w("## Aggregation ablations (rescored from the span-retrieval records, default rule otherwise)")
    w("")
    names = list(dict.fromkeys(n for co in corpora.values() for n in co["ablations"]))
    w("| corpus | default | " + " | ".join(names) + " |")
    w("|" + "---|" * (len(names) + 2))
    for c, co in corpora.items():
        w(f"| {c} | {pct(co['ensemble_default']['f1'])} | " + " | ".join(pct(co["ablations"][n]["f1"]) if n in co["ablations"] else "-" for n in names) + " |")
    w("")
    w("F1 only. 'weights from members' F1 (2-fold)': weights estimated on one half of the sample, scored on the other.")
    w("")
    w("## Vote rules: mean F1 over the corpora (top 15 of the grid, and selected baselines)")
    w("")
    w("Rule names: `ev<N>` spans extracted by at least N models (`-nozs`: the models' zero-shot stage-1 spans not counted as votes); type source; `t` classify threshold; verification "
      "(threshold @ verifiers); weights (`uniform`, or `loco` = each member's F1 alone on the *other* corpora, divided by the best's).")
    w("")
    macro = out["grid"]["macro_f1"]
    w("| rule | mean F1 | " + " | ".join(corpora) + " |")
    w("|" + "---|" * (len(corpora) + 2))
    shown = list(macro)[:15]
    for extra in ("ev1/both/t0.5/verify0.5@all/uniform", "ev1/both/t0.5/noverify/uniform", "ev2/both/t0.5/verify0.5@all/uniform"):
        if extra in macro and extra not in shown:
            shown.append(extra)
    for n in shown:
        w(f"| `{n}` | {pct(macro[n])} | " + " | ".join(pct(prf_of(out['grid']['per_corpus'][c][n]['ensemble'])[2]) for c in corpora) + " |")
    w("")
    w("Leave-one-corpus-out check (rule chosen on the other three corpora, F1 on this one): " +
      "; ".join(f"{c}: `{v['rule']}` {pct(v['f1'])}" for c, v in out["grid"]["loco_choice"].items()) + ".")
    w("")
    w("LOCO weights per corpus: " + "; ".join(f"{c}: " + ", ".join(f"{m} {x}" for m, x in ws.items())
                                             for c, ws in out["grid"]["loco_weights"].items()) + ".")
    w("")
    rec = out["recommended"]
    r = rec["rule"]
    w("Recommended `[pipeline]` settings (the chosen rule; weights = each member's F1 alone pooled over all corpora, "
      "divided by the best member's):")
    w("")
    w("```toml")
    w(f"extract_min_votes = {r['extract_min_votes']}")
    w(f"zero_shot_votes = {'true' if rec['zero_shot_votes'] else 'false'}")
    w(f'type_source = "{r["type_source"]}"')
    w(f"classify_threshold = {r['classify_threshold']}")
    w(f"verify = {'true' if r['verify'] else 'false'}")
    if r["verify"]:
        w(f"verify_threshold = {r['verify_threshold']}")
        w("verifiers = [" + ", ".join(f'"{v}"' for v in rec["verifiers"]) + "]")
    if r["weights"]:
        w("[pipeline.weights]")
        for m, x in r["weights"].items():
            w(f'"{m}" = {x}')
    w("```")
    w("")
    if any("retrieval" in co for co in corpora.values()):
        w("## Retrieval ablations (new model runs)")
        w("")
        w("| corpus | n | mode | ensemble, default rule | ensemble, chosen rule | " + " | ".join(f"{m} alone" for m in members) + " | s / sentence |")
        w("|" + "---|" * (len(members) + 6))
        label = {"span": "span-level (EL4NER)", "none": "none (zero-shot)", "random": "random demos", "sentence": "sentence-level"}
        for c, co in corpora.items():
            if "retrieval" not in co:
                continue
            for mode, r in co["retrieval"]["modes"].items():
                w(f"| {c} | {co['retrieval']['sentences']} | {label[mode]} | {pct(r['default']['f1'])} | {pct(r['best']['f1'])} | " +
                  " | ".join(pct(s["f1"]) for s in r["members"].values()) + f" | {r['throughput'].get('seconds_per_sentence', '-')} |")
        w("")
    w("## Per type (ensemble, chosen rule, span retrieval)")
    w("")
    for c, co in corpora.items():
        w(f"- {c}: " + "; ".join(f"{t} {pct(s['f1'])} (n={s['support']})" for t, s in co["ensemble_best"]["per_type"].items()))
    w("")
    w("## Throughput (span retrieval; measured when each sentence was computed, on a shared 2-core CPU)")
    w("")
    w("| corpus | sentences/s | s / sentence | peak RSS MB |")
    w("|---|---|---|---|")
    for c, co in corpora.items():
        t = co["throughput"]
        w(f"| {c} | {t['sentences_per_second']} | {t['seconds_per_sentence']} | {t['peak_rss_mb']:.0f} |")
    w("")
    w("LLM tokens per sentence by stage and model (prompt tokens evaluated / reused from the KV cache / generated; calls):")
    w("")
    w("| corpus | stage | model | evaluated | reused | generated | calls | seconds |")
    w("|---|---|---|---|---|---|---|---|")
    for c, co in corpora.items():
        for stage, ms in co["throughput"]["tokens_per_sentence"].items():
            for m, st in ms.items():
                w(f"| {c} | {stage} | {m} | {st['evaluated']} | {st['reused']} | {st['generated']} | {st['calls']} | {st['seconds']} |")
    w("")
    w("## How to read this, and what is not measured yet")
    w("")
    w("- *Member alone* is rescored from the ensemble's records: the member's own extraction (and zero-shot) answers, "
      "type answers and verification answers only. Its demonstrations were still retrieved with the ensemble's stage-1 "
      "spans, so it is close to, not exactly, a one-model run.")
    w("- When a rule accepts a label the verifiers were not asked about (a member alone, other weights or type source), "
      "the span counts as unverified and is accepted, as `votes.decide` does; the JSON report counts these (`unverified`).")
    w("- k (4) and the POS weights of SpanSim were not varied: each value of k needs new model runs.")
    w("- Throughput was measured with one llama.cpp thread per model (`--threads 1`) on a 2-core machine shared with "
      "other jobs (load average 7 to 10): here one thread was 3.5 times faster than two (Gemma 3 270M, 40 tokens: 21.6 s "
      "vs. 75.2 s), because llama.cpp's threads wait on each other when the cores are oversubscribed. On an idle machine "
      "these seconds would be several times smaller; the token counts do not depend on the machine.")
    w("- The full JSON (every rule of the grid, per corpus) is written next to the record cache as `eval/results.json`.")
    w("")
    return "\n".join(L) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--limit", type=int, default=200)
    r.add_argument("--corpus", action="append", help="only these corpora (default: all four)")
    r.add_argument("--modes", help="only these retrieval modes, e.g. span or none,random,sentence")
    r.add_argument("--threads", type=int, default=1, help="CPU threads per model (1: fastest on a shared CPU)")
    rep = sub.add_parser("report")
    rep.add_argument("--out", type=Path, default=ROOT / "docs" / "results.md")
    rep.add_argument("--limit", type=int, default=200)
    rep.add_argument("--corpus", action="append", help="only these corpora (default: all four)")
    args = parser.parse_args()
    if args.command == "run":
        run(args)
    else:
        report(args)


if __name__ == "__main__":
    main()
