"""Run the evaluation on the four shared corpora and write docs/results.md from the record cache.

    python scripts/results.py run [--limit 200] [--modes span,k2] [--threads 2]   # model runs (resumable, cached)
    python scripts/results.py report                                               # rescoring only: docs/results.md + JSON

`run` works through a plan of (corpus, run, sample size) steps in order (a run is a retrieval mode with
its settings, RUNS), interleaving the corpora with growing sample prefixes (the sample is prefix-stable),
so that an interrupted run leaves every corpus with a comparable sample. `report` uses, for each corpus
and run, the longest prefix of the sample that is fully recorded, and compares runs only on the
sentences both have.
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
# Runs with new model calls: name -> (retrieval mode, settings on top of OVERRIDES, lean records).
# "span" is the pipeline as configured, recorded lean (extraction only: every rule with types from
# extraction and no verification) on the large sample; "span-full" records every stage (classification,
# verification) on a smaller one; "span-models" takes stage 1's retrieval spans from the models (EL4NER).
RUNS = {
    "span": ("span", {}, True),
    "span-full": ("span", {}, False),
    "span-models": ("span", {"retrieval_spans": "models"}, False),
    "none": ("none", {}, True),
    "random": ("random", {}, True),
    "sentence": ("sentence", {}, True),
    # the number of demonstrations (the run equal to the default shares its records)
    "k2": ("span", {"k": 2}, True),
    "k4": ("span", {"k": 4}, True),
}


RUN_LABELS = {
    "span": "span-level, word-run spans (default)",
    "span-full": "same, every stage recorded",
    "span-models": "span-level, models' zero-shot spans (EL4NER)",
    "none": "zero-shot (no demonstrations)",
    "random": "random demonstrations",
    "sentence": "sentence-level retrieval",
    "k2": "k = 2 demonstrations",
    "k4": "k = 4 demonstrations",
}


def tagger_for(index, name: str, threads: int | None = None):
    """The recording tagger of one run and its record cache."""
    from el4ner_local.evaluation.cache import RecordCache
    from el4ner_local.evaluation.records import recording_tagger

    mode, extra, lean = RUNS[name]
    tagger = recording_tagger(
        index, mode, threads=threads, overrides={**OVERRIDES, **extra}, stages="lean" if lean else "all"
    )
    return tagger, RecordCache.for_tagger(tagger, mode)


ABLATION_CORPORA = ("CrossNER politics", "WNUT-17")  # politics first: about 6 entities a sentence


def plan(limit: int) -> list[tuple[str, str, int]]:
    """Corpora interleaved, sample prefixes growing: the number of demonstrations first (lean runs
    that choose the default k), the smaller runs at 10 sentences, the main run up to `limit`, then
    the smaller runs at 25."""
    abl = ("none", "random", "sentence")
    small = ("span-full", "span-models")
    steps = [(c, m, n) for n in (10, 25) for c in CORPORA for m in ("k2", "k4")]
    steps += [(c, m, 10) for c in CORPORA for m in small] + [(c, m, 10) for c in ABLATION_CORPORA for m in abl]
    for n in range(25, limit + 1, 25):
        steps += [(c, "span", n) for c in CORPORA]
    steps += [(c, m, 25) for c in CORPORA for m in small] + [(c, m, 25) for c in ABLATION_CORPORA for m in abl]
    return steps


def log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def run(args) -> None:
    from el4ner_local.evaluation.cache import pool_index
    from el4ner_local.evaluation.records import run_records, sample
    from el4ner_local.formats import read_labelled

    cache: dict = {}
    for corpus, mode, n in plan(args.limit):
        if (args.corpus and corpus not in args.corpus) or (args.modes and mode not in args.modes.split(",")):
            continue
        test, pool = CORPORA[corpus]
        if corpus not in cache:
            cache[corpus] = (read_labelled(test), pool_index(pool, progress=log))
        gold, index = cache[corpus]
        tagger, rc = tagger_for(index, mode, args.threads)
        chosen = sample(gold, n, SEED)
        todo = sum(1 for s in chosen if rc.get(s.text) is None)
        if not todo:
            continue
        log(f"{corpus} [{mode}] sample {n}: {todo} to run -> {rc.path.name}")
        t0 = time.perf_counter()
        run_records(
            tagger,
            chosen,
            rc,
            progress=lambda i, total, hit, where=f"{corpus} [{mode}]": None if hit else log(f"  {where} {i}/{total}"),
        )
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
    from el4ner_local.evaluation.scoring import Counts

    return Counts.prf(*counts)


def load_corpus(corpus: str, limit: int):
    """The sample and, per retrieval mode, the recorded prefix of it."""
    from el4ner_local.evaluation.cache import pool_index
    from el4ner_local.evaluation.records import sample
    from el4ner_local.formats import read_labelled

    test, pool = CORPORA[corpus]
    gold = read_labelled(test)
    chosen = sample(gold, limit, SEED)
    index = pool_index(pool)
    runs = {}
    for mode in RUNS:
        tagger, rc = tagger_for(index, mode)
        n = recorded_prefix(rc, chosen)
        if n:
            runs[mode] = {"entries": [rc.get(s.text) for s in chosen[:n]], "gold": chosen[:n], "file": rc.path.name}
    members = [m.name for m in tagger.models]
    return {
        "gold_all": len(gold),
        "index": index,
        "runs": runs,
        "members": members,
        "models": [{"name": m.name, "sha256": m.spec.source.sha256, "file": m.spec.source.file} for m in tagger.models],
    }


def lean_rule(rule, rule_zero_shot: bool, zero_shot: bool) -> bool:
    """Rules that lean records (extraction only) can score: types from extraction, no verification;
    counting zero-shot votes only when the default does."""
    return rule.type_source == "extract" and not rule.verify and (zero_shot or not rule_zero_shot)


def f1_pct(score: dict) -> str:
    return pct(score["f1"])


def prf_cell(score: dict) -> str:
    return f"{pct(score['precision'])} / {pct(score['recall'])} / **{pct(score['f1'])}**"


def report(args) -> None:
    from rule_grid import grid_counts, rule_grid

    from el4ner_local.config import load_config
    from el4ner_local.evaluation.cache import eval_dir
    from el4ner_local.evaluation.run import git_commit
    from el4ner_local.evaluation.scoring import ablations, rescore, rule_dict, score_entries, throughput
    from el4ner_local.pipeline.votes import VoteRule

    settings = load_config(None, "fast").pipeline  # the records are the previous default's, now the fast profile
    default_rule, zs = VoteRule.from_settings(settings), settings.zero_shot_votes
    data = {c: load_corpus(c, args.limit) for c in CORPORA if not args.corpus or c in args.corpus}
    data = {c: d for c, d in data.items() if "span" in d["runs"]}
    members = next(iter(data.values()))["members"]
    out: dict = {
        "commit": git_commit(),
        "default_rule": rule_dict(default_rule),
        "zero_shot_votes": zs,
        "settings": {"k": settings.k, "demo_words": settings.demo_words, "retrieval_spans": settings.retrieval_spans},
        "corpora": {},
    }

    def main_of(c):
        r = data[c]["runs"]["span"]
        return r["entries"], r["gold"]

    # vote weights for a corpus: each member's F1 alone on the OTHER corpora's main records, pooled
    alone = {
        c: {
            m: rescore(
                *main_of(c), VoteRule(extract_min_votes=1, verify=False, type_source="extract"), [m], n_models=1
            ).counts
            for m in members
        }
        for c in data
    }

    def weights_from(corpora) -> dict:
        f1 = {
            m: prf_of(tuple(sum(getattr(alone[o][m], k) for o in corpora) for k in ("tp", "pred", "gold")))[2]
            for m in members
        }
        top = max(f1.values()) or 1.0
        return {m: round(max(v / top, 0.05), 2) for m, v in f1.items()}

    loco = {c: weights_from([o for o in data if o != c]) for c in data}
    pooled_weights = weights_from(list(data))

    # the rule grid on the main (lean) records; each corpus weighs with its leave-one-corpus-out weights
    grid = {}
    for c in data:
        rules = [(n, r, v, z) for n, r, v, z in rule_grid(members, {"loco": loco[c]}) if lean_rule(r, z, zs)]
        grid[c] = grid_counts(*main_of(c), rules, members)
    names = list(next(iter(grid.values())))
    rules_by_name = {n: (r, v, z) for n, r, v, z in rule_grid(members, {"loco": {}}) if n in names}

    def f1_of(c, name, who="ensemble"):
        return prf_of(grid[c][name][who])[2]

    macro = {n: sum(f1_of(c, n) for c in data) / len(data) for n in names}
    top_f1 = max(macro.values())

    def cost(n):  # fewer votes needed, uniform weights, lower threshold: the simpler rule first
        r = rules_by_name[n][0]
        return (n.endswith("/loco"), r.extract_min_votes, r.classify_threshold, -macro[n])

    best_rule = min((n for n in names if macro[n] >= top_f1 - 0.01), key=cost)
    member_best = {
        m: max((n for n in names if m in grid[next(iter(data))][n]), key=lambda n: sum(f1_of(c, n, m) for c in data))
        for m in members
    }
    loco_choice = {}
    for c in data:
        pick = max(names, key=lambda n: sum(f1_of(o, n) for o in data if o != c))
        loco_choice[c] = {"rule": pick, "f1": f1_of(c, pick)}
    best, _, best_zs = rules_by_name[best_rule]
    out["grid"] = {
        "macro_f1": {n: round(v, 4) for n, v in sorted(macro.items(), key=lambda kv: (-kv[1], kv[0]))},
        "best_rule": best_rule,
        "member_best_rule": member_best,
        "loco_choice": loco_choice,
        "loco_weights": loco,
        "pooled_weights": pooled_weights,
        "per_corpus": grid,
    }
    out["recommended"] = {
        "rule": rule_dict(replace(best, weights=pooled_weights if best_rule.endswith("/loco") else {})),
        "zero_shot_votes": best_zs,
    }

    def chosen_for(c):
        r, v, z = rules_by_name[best_rule]
        return (replace(r, weights=loco[c]) if best_rule.endswith("/loco") else r), v, z

    full_names = set()
    for c, d in data.items():
        e, g = main_of(c)
        co = {
            "sample": len(e),
            "of": d["gold_all"],
            "entities": sum(len(s.spans) for s in g),
            "pool": {"sentences": len(d["index"]), "spans": d["index"].n_spans},
            "labels": d["index"].labels,
            "records": {name: r["file"] for name, r in d["runs"].items()},
            "sizes": {name: len(r["entries"]) for name, r in d["runs"].items()},
        }
        co["ensemble_default"] = score_entries(e, g, default_rule, zero_shot=zs)
        co["members_default"] = {
            m: score_entries(e, g, replace(default_rule, extract_min_votes=1), [m], [m], zero_shot=zs) for m in members
        }
        rule, verifiers, z = chosen_for(c)
        co["ensemble_best"] = score_entries(e, g, rule, None, verifiers, z)
        co["members_best"] = {
            m: score_entries(e, g, rules_by_name[member_best[m]][0], [m], [m], rules_by_name[member_best[m]][2])
            for m in members
        }
        lean_abl = ablations(e, g, default_rule, members, zero_shot=zs)
        co["ablations_main"] = {k: v for k, v in lean_abl.items() if k.startswith(("union", "vote at", "weights"))}
        co["throughput"] = throughput(e)
        if "span-full" in d["runs"]:  # stages 3 and 4 recorded: verification, type source, the whole grid
            f = d["runs"]["span-full"]
            co["full"] = {
                "sample": len(f["entries"]),
                "entities": sum(len(s.spans) for s in f["gold"]),
                "default": score_entries(f["entries"], f["gold"], default_rule, zero_shot=zs),
                "ablations": ablations(f["entries"], f["gold"], default_rule, members, zero_shot=zs),
                "grid": grid_counts(f["entries"], f["gold"], rule_grid(members, {"loco": loco[c]}), []),
            }
            full_names |= set(co["full"]["grid"])
        # the other runs against the main one, on the sentences both have
        co["compare"] = {}
        for name, r in d["runs"].items():
            if name in ("span", "span-full") or r["file"] == d["runs"]["span"]["file"]:
                continue  # the main run itself (k = the default's k shares its records)
            n = min(len(r["entries"]), len(e))
            pair = {"span": (e[:n], g[:n]), name: (r["entries"][:n], r["gold"][:n])}
            row = {"sentences": n, "entities": sum(len(s.spans) for s in g[:n])}
            for who, (ee, gg) in pair.items():
                row[who] = {
                    "default": score_entries(ee, gg, default_rule, zero_shot=zs),
                    "chosen": score_entries(ee, gg, rule, None, verifiers, z),
                    "members": {
                        m: score_entries(ee, gg, replace(default_rule, extract_min_votes=1), [m], [m], zero_shot=zs)
                        for m in members
                    },
                    "throughput": throughput(ee),
                }
                if who == "span-models":
                    row[who]["zero-shot votes"] = score_entries(ee, gg, default_rule, zero_shot=True)
            co["compare"][name] = row
        co["per_type"] = co["ensemble_best"]["per_type"]
        out["corpora"][c] = co
    full_corpora = [c for c, co in out["corpora"].items() if "full" in co]
    if full_corpora:
        fm = {
            n: sum(prf_of(out["corpora"][c]["full"]["grid"][n]["ensemble"])[2] for c in full_corpora)
            / len(full_corpora)
            for n in full_names
        }
        out["full_grid_macro_f1"] = {n: round(v, 4) for n, v in sorted(fm.items(), key=lambda kv: (-kv[1], kv[0]))}
    out["models"] = next(iter(data.values()))["models"]
    json_path = eval_dir() / "results.json"
    json_path.write_text(json.dumps(out, indent=1, default=str), encoding="utf-8")
    args.out.write_text(render(out, members), encoding="utf-8")
    log(f"wrote {args.out} and {json_path}")


def ablation_table(w, rows) -> None:
    """F1 of the default rule and of each ablation; rows of (corpus, sample size, default score, ablations)."""
    names = list(dict.fromkeys(n for *_, abl in rows for n in abl))
    w("| corpus | n | default | " + " | ".join(names) + " |")
    w("|" + "---|" * (len(names) + 3))
    for c, size, default, abl in rows:
        w(
            f"| {c} | {size} | {f1_pct(default)} | "
            + " | ".join(f1_pct(abl[n]) if n in abl else "-" for n in names)
            + " |"
        )
    w("")


def render(out: dict, members: list[str]) -> str:
    """The markdown page."""
    corpora = out["corpora"]
    st = out["settings"]
    dr = out["default_rule"]
    L = []
    w = L.append
    w("# Results")
    w("")
    w(
        "Produced by `python scripts/results.py report` from the record cache that `python scripts/results.py run` fills "
        "(every model's answers, recorded once per sentence; every rule below is rescored from those records with "
        "`votes.decide`). Strict entity-level precision / recall / micro-F1 by seqeval (mode strict, IOB2), in %."
    )
    w("")
    w(f"- Commit: `{out['commit']}`")
    w("- Models: " + "; ".join(f"`{m['name']}` ({m['file']}, sha256 `{m['sha256'][:12]}...`)" for m in out["models"]))
    w(
        f"- Pipeline (models.toml): k = {st['k']} demonstrations cut to {st['demo_words'] or 'all'} words, stage-1 "
        f"retrieval spans from `{st['retrieval_spans']}`; default rule: extract_min_votes {dr['extract_min_votes']}, type_source "
        f"{dr['type_source']}, classify_threshold {dr['classify_threshold']}, verify {dr['verify']}, "
        f"zero-shot votes {out['zero_shot_votes']}, weights "
        f"{', '.join(f'{m} {x}' for m, x in dr['weights'].items()) or 'uniform'}."
    )
    if dr["weights"]:
        w(
            "- The default weights were estimated from these same records (each member's F1 alone, pooled over the four "
            "corpora), so the default-rule columns are slightly optimistic; the chosen-rule columns use leave-one-corpus-out "
            "weights, which never saw the corpus they are scored on."
        )
    w(
        f"- Sample: seed {SEED}; each test split shuffled with `random.Random({SEED})`, first N sentences (`--limit N --seed {SEED}`); "
        "a smaller run uses the first sentences of the same sample. Pool: the corpus's own train split, indexed from its gold spans."
    )
    w("")
    w(
        "| corpus | test sentences | main sample (entities) | pool sentences / spans | "
        + " | ".join(RUN_LABELS[r] for r in RUNS if r != "span")
        + " |"
    )
    w("|" + "---|" * (4 + len(RUNS) - 1))
    for c, co in corpora.items():
        w(
            f"| {c} | {co['of']} | {co['sample']} ({co['entities']}) | {co['pool']['sentences']} / {co['pool']['spans']} | "
            + " | ".join(str(co["sizes"].get(r, "-")) for r in RUNS if r != "span")
            + " |"
        )
    w("")
    w(
        "Main sample: lean records (extraction only, which is all the default pipeline runs). They score every rule that "
        "takes types from extraction and skips verification. The classification (stage 3) and verification (stage 4) "
        "ablations need every stage recorded, which costs about twice as much, so they come from a smaller run."
    )
    w("")
    w("## Ensemble vs. members (main sample)")
    w("")
    w(
        f"Chosen rule: `{out['grid']['best_rule']}`, the simplest rule whose mean F1 over the corpora is within one point of "
        f"the best rule of the lean grid ({pct(max(out['grid']['macro_f1'].values()))}). `loco` weights: each member's F1 "
        "alone on the *other* corpora, divided by the best member's."
    )
    w("")
    head = (
        "| corpus | n | ensemble, default rule | "
        + " | ".join(f"{m} alone" for m in members)
        + " | ensemble, chosen rule | "
        + " | ".join(f"{m} alone, its best rule" for m in members)
        + " |"
    )
    w(head)
    w("|" + "---|" * (head.count("|") - 1))
    for c, co in corpora.items():
        cells = [
            prf_cell(co["ensemble_default"]),
            *(prf_cell(s) for s in co["members_default"].values()),
            prf_cell(co["ensemble_best"]),
            *(prf_cell(s) for s in co["members_best"].values()),
        ]
        w(f"| {c} | {co['sample']} | " + " | ".join(cells) + " |")
    w("")
    w(
        "Cells are P / R / **F1**. A member alone is scored from its own answers in the ensemble's records, with the "
        "default rule's type source. Members' best rules: "
        + "; ".join(f"{m}: `{r}`" for m, r in out["grid"]["member_best_rule"].items())
        + "."
    )
    w("")
    w("### Does the ensemble beat its best member?")
    w("")
    w(
        "| corpus | ensemble, default rule | ensemble, chosen rule | best member alone (its best rule) | chosen - best member |"
    )
    w("|---|---|---|---|---|")
    tot = {"default": [0, 0, 0], "chosen": [0, 0, 0], **{m: [0, 0, 0] for m in members}}
    for c, co in corpora.items():
        best_m = max(co["members_best"], key=lambda m: co["members_best"][m]["f1"])
        e_f1, m_f1 = co["ensemble_best"]["f1"], co["members_best"][best_m]["f1"]
        w(
            f"| {c} | {f1_pct(co['ensemble_default'])} | {pct(e_f1)} | {pct(m_f1)} ({best_m}) | {100 * (e_f1 - m_f1):+.1f} |"
        )
        for i, key in enumerate(("tp", "pred", "gold")):
            tot["default"][i] += co["ensemble_default"]["counts"][key]
            tot["chosen"][i] += co["ensemble_best"]["counts"][key]
            for m in members:
                tot[m][i] += co["members_best"][m]["counts"][key]
    m_all = {m: prf_of(tot[m])[2] for m in members}
    top = max(m_all, key=m_all.get)
    e_all = prf_of(tot["chosen"])[2]
    w(
        f"| all corpora pooled (micro) | {pct(prf_of(tot['default'])[2])} | {pct(e_all)} | {pct(m_all[top])} ({top}) | "
        f"{100 * (e_all - m_all[top]):+.1f} |"
    )
    w("")
    wins = [
        c for c, co in corpora.items() if co["ensemble_best"]["f1"] > max(s["f1"] for s in co["members_best"].values())
    ]
    bests = {c: max(co["members_best"], key=lambda m: co["members_best"][m]["f1"]) for c, co in corpora.items()}
    w(
        f"The chosen rule beats the best member on {len(wins)} of {len(corpora)} corpora"
        f"{' (' + ', '.join(wins) + ')' if wins else ''} and pooled over all of them "
        f"({'ahead' if e_all > m_all[top] else 'behind'} by {abs(100 * (e_all - m_all[top])):.1f} points). The best member "
        f"is not the same model everywhere ({'; '.join(f'{c}: {m}' for c, m in bests.items())}), and a user cannot know in "
        "advance which it will be on their text; the ensemble is the choice that does not depend on knowing it."
    )
    w("")
    w(
        "Leave-one-corpus-out check (rule chosen on the other three corpora, F1 on this one): "
        + "; ".join(f"{c}: `{v['rule']}` {pct(v['f1'])}" for c, v in out["grid"]["loco_choice"].items())
        + "."
    )
    w("")
    rec = out["recommended"]["rule"]
    w(
        "The chosen rule as `[pipeline]` settings (weights: each member's F1 alone pooled over all corpora, divided by the best's):"
    )
    w("")
    w("```toml")
    w(f"extract_min_votes = {rec['extract_min_votes']}")
    w(f'type_source = "{rec["type_source"]}"')
    w(f"classify_threshold = {rec['classify_threshold']}")
    if rec["weights"]:
        w("[pipeline.weights]")
        for m, x in rec["weights"].items():
            w(f'"{m}" = {x}')
    w("```")
    w("")
    w("### Vote rules on the main sample: mean F1 over the corpora (top 10)")
    w("")
    w(
        "Rule names: `ev<N>` spans extracted by at least N models (`-nozs`: zero-shot spans not counted); type source; "
        "`t` classify threshold; verification; weights."
    )
    w("")
    w("| rule | mean F1 | " + " | ".join(corpora) + " |")
    w("|" + "---|" * (len(corpora) + 2))
    for n in list(out["grid"]["macro_f1"])[:10]:
        w(
            f"| `{n}` | {pct(out['grid']['macro_f1'][n])} | "
            + " | ".join(pct(prf_of(out["grid"]["per_corpus"][c][n]["ensemble"])[2]) for c in corpora)
            + " |"
        )
    w("")
    w("## Aggregation ablations")
    w("")
    w("Each column flips one part of the default rule. Main sample (extraction votes, weights):")
    w("")
    ablation_table(
        w, [(c, str(co["sample"]), co["ensemble_default"], co["ablations_main"]) for c, co in corpora.items()]
    )
    w("'weights from members' F1 (2-fold)': weights estimated on one half of the sample, scored on the other.")
    w("")
    full = {c: co["full"] for c, co in corpora.items() if "full" in co}
    if full:
        w("Every stage recorded (the `span-full` run: classification and verification answers for every span; F1):")
        w("")
        ablation_table(
            w, [(c, f"{f['sample']} ({f['entities']})", f["default"], f["ablations"]) for c, f in full.items()]
        )
        fm = out.get("full_grid_macro_f1", {})
        w(
            "The whole rule grid on these records, mean F1 over the corpora (top 10; verification rules shown as "
            "`verify<threshold>@<verifiers>`):"
        )
        w("")
        w("| rule | mean F1 | " + " | ".join(full) + " |")
        w("|" + "---|" * (len(full) + 2))
        for n in list(fm)[:10]:
            w(
                f"| `{n}` | {pct(fm[n])} | "
                + " | ".join(pct(prf_of(f["grid"][n]["ensemble"])[2]) for f in full.values())
                + " |"
            )
        best_verify = next((n for n in fm if "/verify" in n), None)
        if best_verify:
            w(
                f"| best rule with verification: `{best_verify}` | {pct(fm[best_verify])} | "
                + " | ".join(pct(prf_of(f["grid"][best_verify]["ensemble"])[2]) for f in full.values())
                + " |"
            )
        w("")
    rows = [(c, name, r) for c, co in corpora.items() for name, r in co["compare"].items()]
    if rows:
        w("## Stage 1 and retrieval ablations (new model runs, against the main run on the same sentences)")
        w("")
        w(
            "| corpus | n (entities) | run | ensemble, default rule | ensemble, chosen rule | "
            + " | ".join(f"{m} alone" for m in members)
            + " | s / sentence as recorded (runs with every stage recorded also ran "
            "stages 3-4) | LLM tokens evaluated / sentence, stages 1-2 |"
        )
        w("|" + "---|" * (len(members) + 7))
        shown_main = set()
        for c, name, r in rows:
            for who in ("span", name):
                if who == "span" and (c, r["sentences"]) in shown_main:
                    continue  # the main run on these sentences is in the table already
                shown_main.add((c, r["sentences"]))
                x = r[who]
                t = x["throughput"]
                toks = sum(
                    v["evaluated"]
                    for stage, ms in t.get("tokens_per_sentence", {}).items()
                    if stage.startswith(("1", "2"))
                    for v in ms.values()
                )
                extra = f" (zero-shot votes counted: {f1_pct(x['zero-shot votes'])})" if "zero-shot votes" in x else ""
                w(
                    f"| {c} | {r['sentences']} ({r['entities']}) | {RUN_LABELS[who]} | {f1_pct(x['default'])}{extra} | "
                    f"{f1_pct(x['chosen'])} | "
                    + " | ".join(f1_pct(s) for s in x["members"].values())
                    + f" | {t.get('seconds_per_sentence', '-')} | {toks:.0f} |"
                )
        w("")
    w("## Per type (ensemble, chosen rule, main sample)")
    w("")
    for c, co in corpora.items():
        w(f"- {c}: " + "; ".join(f"{t} {pct(s['f1'])} (n={s['support']})" for t, s in co["per_type"].items()))
    w("")
    w("## Throughput (main sample: the default pipeline's own calls; measured as each sentence was computed)")
    w("")
    w("| corpus | sentences/s | s / sentence | peak RSS MB |")
    w("|---|---|---|---|")
    for c, co in corpora.items():
        t = co["throughput"]
        w(f"| {c} | {t['sentences_per_second']} | {t['seconds_per_sentence']} | {t['peak_rss_mb']:.0f} |")
    w("")
    w(
        "LLM tokens per sentence by stage and model (prompt tokens evaluated / reused from the KV cache / generated; calls):"
    )
    w("")
    w("| corpus | stage | model | evaluated | reused | generated | calls | seconds |")
    w("|---|---|---|---|---|---|---|---|")
    for c, co in corpora.items():
        for stage, ms in co["throughput"]["tokens_per_sentence"].items():
            for m, s in ms.items():
                w(
                    f"| {c} | {stage} | {m} | {s['evaluated']} | {s['reused']} | {s['generated']} | {s['calls']} | {s['seconds']} |"
                )
    w("")
    w("## How to read this")
    w("")
    w(
        "- *Member alone* is rescored from the ensemble's records: the member's own answers only. Its demonstrations were "
        "retrieved as for the ensemble, so it is close to, not exactly, a one-model run."
    )
    w(
        "- When a rule accepts a label the verifiers were not asked about (a member alone, other weights or type source), "
        "the span counts as unverified and is accepted, as `votes.decide` does; the JSON report counts these (`unverified`)."
    )
    w(
        "- Seconds are as measured when each record was computed: two llama.cpp threads per model (`--threads 2`) on a "
        "2-core machine, paused while test suites ran (short tests and reports still ran beside it at times); token "
        "counts do not depend on the machine."
    )
    w(
        "- The full JSON (every rule of the grids, per corpus) is written next to the record cache as `eval/results.json`."
    )
    w("")
    return "\n".join(L) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--limit", type=int, default=200)
    r.add_argument("--corpus", action="append", help="only these corpora (default: all four)")
    r.add_argument("--modes", help=f"only these runs, e.g. span or none,random,sentence (of: {', '.join(RUNS)})")
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
