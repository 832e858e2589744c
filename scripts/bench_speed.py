"""Speed of the four-stage pipeline against what llama.cpp itself needs, measured side by side.

For each sentence of a fixed sample (WNUT-17 test, first N sentences over 40 characters, the
built-in demonstration pool):
  pipeline the full four-stage pipeline, sentence after sentence as `tag` runs them (the KV cache
           holds what the previous sentence left, which is how the instructions get reused)
  bound    for each model, with only the instructions in its KV cache: evaluate the sentence with
           its demonstrations once and generate its entity list once; summed over the ensemble
and per stage and model: tokens evaluated, reused from the KV cache, generated, calls, seconds;
strict entity-level precision, recall and F1 against the gold spans of the same sentences.
With --baseline REV the same sentences also run through the pipeline as it was at git revision
REV (in a temporary worktree, a separate process, the same treatment of the KV cache), to compare
tokens evaluated per sentence and F1.

    python scripts/bench_speed.py --limit 5 --baseline dbbd70d --json docs/speed.json

With --sentences N (side by side, issue 18): the first N sentences of the dev samples of
scripts/accuracy.py (its four corpora in turn, each with its own pool and label names), each tagged
in one process by
  accurate        the candidate ensemble (scripts/candidate_models.toml) as accuracy.py records it:
                  whole demonstrations, k = 4, extraction and stage-3 types; every speed-up off
  accurate+draftD the same with prompt-lookup drafting on (D = --draft tokens per step; several: one each)
  fast            --profile fast of models.toml, same pool and label names
one configuration after the other for each sentence, each model's KV cache holding only the
instructions before each (as after an earlier sentence of the same corpus). Reports seconds and
tokens per sentence, the ratios, and whether the records (SentenceRecord JSON) are identical with
each speed-up off and on, and to those accuracy.py recorded for the same sentences. With
--against default, "accurate" and its drafts give way to
  default         models.toml's default profile as `tag` runs it (its rule, the pool's names, calibration)

    python scripts/bench_speed.py --sentences 8 --draft 1 4 --json docs/speed-drafts.json
    python scripts/bench_speed.py --sentences 8 --against default --json docs/speed-default.json
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
DATA = ROOT.parent / "shared" / "data" / "wnut17" / "emerging.test.annotated"


def sample(limit: int):
    from el4ner_local.formats import read_labelled

    return [s for s in read_labelled(DATA) if len(s.text) > 40][:limit]


def measure(limit: int, overrides: dict) -> dict:
    """Run the bound and the pipeline in this process (the code of the current checkout)."""
    from el4ner_local import Tagger
    from el4ner_local.pipeline import prompts
    from el4ner_local.pipeline.stages import SentenceInput

    tagger = Tagger.load(**overrides)
    for m in tagger.models:
        m.load()  # outside the timings
    rows = []
    for sent in sample(limit):
        inp = SentenceInput(sent.text, 0, sent.tokens)
        before = {m.name: m.stats.copy() for m in tagger.models}
        t0 = time.perf_counter()
        record = tagger.tag_sentence(inp)
        wall = time.perf_counter() - t0
        used = {m.name: m.stats.minus(before[m.name]).as_dict() for m in tagger.models}
        book = tagger.stages.book
        demos = tagger.index.retrieve(sent.text, record.stage1_spans, tagger.settings.k)  # the pipeline's own
        shared = book.shared(sent.text, demos, tagger.settings.demo_words)
        bound = 0.0
        _prime(tagger, sent.text)  # only the instructions cached, as in steady state
        for m in tagger.models:
            t0 = time.perf_counter()
            m.generate(
                book.extract(shared),
                prefill=prompts.EXTRACT_PREFILL,
                stop=prompts.STOP,
                max_tokens=tagger.settings.max_new_tokens,
                max_lines=tagger.settings.max_output_lines,
            )
            bound += time.perf_counter() - t0
        rows.append(
            {
                "text": sent.text,
                "bound_s": bound,
                "pipeline_s": wall,
                "evaluated": sum(u["evaluated"] for u in used.values()),
                "reused": sum(u["reused"] for u in used.values()),
                "generated": sum(u["generated"] for u in used.values()),
                "predicted": [[c.start, c.end, c.label] for c in record.candidates if c.accepted],
            }
        )
        print(
            f"  sentence {len(rows)}: pipeline {wall:.1f} s, bound {bound:.1f} s, evaluated {rows[-1]['evaluated']}",
            file=sys.stderr,
            flush=True,
        )
    return {"rows": rows, "by_stage": tagger.stats.as_dict()}


def scores(rows, sents) -> dict:
    """Strict entity-level micro precision, recall and F1: same offsets and same label."""
    tp = pred = gold = 0
    for row, sent in zip(rows, sents, strict=True):
        g = {(s.start, s.end, s.label) for s in sent.spans}
        p = {tuple(x) for x in row["predicted"]}
        tp, pred, gold = tp + len(g & p), pred + len(p), gold + len(g)
    prec, rec = tp / max(pred, 1), tp / max(gold, 1)
    return {
        "precision": prec,
        "recall": rec,
        "f1": 2 * prec * rec / max(prec + rec, 1e-9),
        "gold": gold,
        "predicted": pred,
    }


def baseline(rev: str, limit: int) -> dict:
    """The pipeline at an older revision, run in a worktree by a child process."""
    with tempfile.TemporaryDirectory(prefix="el4ner-baseline-") as tmp:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", tmp, rev], check=True, capture_output=True
        )
        try:
            code = f"""
import json, sys, time
sys.path.insert(0, {tmp!r})
from el4ner_local.pipeline.tagger import Tagger
from el4ner_local.pipeline.stages import SentenceInput
sents = json.loads(sys.stdin.read())
t = Tagger.load()
rows = []
for text, tokens in sents:
    before = {{m.name: m.stats.copy() for m in t.models}}
    t0 = time.perf_counter()
    record = t.tag_sentence(SentenceInput(text, 0, [tuple(x) for x in tokens]))
    wall = time.perf_counter() - t0
    used = [m.stats.minus(before[m.name]) for m in t.models]
    rows.append({{"pipeline_s": wall, "evaluated": sum(u.evaluated for u in used),
                  "reused": sum(u.reused for u in used), "generated": sum(u.generated for u in used),
                  "predicted": [[c.start, c.end, c.label] for c in record.candidates if c.accepted]}})
print(json.dumps({{"rows": rows, "by_stage": t.stats.as_dict()}}))
"""
            sents = json.dumps([[s.text, s.tokens] for s in sample(limit)])
            proc = subprocess.run([sys.executable, "-c", code], input=sents, capture_output=True, text=True, cwd=tmp)
            if proc.returncode:
                raise SystemExit(f"baseline at {rev} failed:\n{proc.stderr[-2000:]}")
            return json.loads(proc.stdout.strip().splitlines()[-1])
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tmp], capture_output=True)


def _accuracy_script():
    """scripts/accuracy.py as a module: its corpora, pools, candidate models and recording settings."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import accuracy

    return accuracy


def side_sample(n: int) -> list[tuple[str, object]]:
    """(corpus, sentence): the first n of accuracy.py's dev samples, taking the corpora in turn."""
    acc = _accuracy_script()
    samples = {c: acc.corpus_sample("dev", c, acc.STEPS[-1]) for c in acc.SPLITS["dev"]}
    return [(c, samples[c][i // len(samples)]) for i, c in zip(range(n), itertools.cycle(samples), strict=False)]


def _recorded(tagger) -> dict[str, dict]:
    """accuracy.py's records for this tagger's configuration (read only), by sentence id."""
    from el4ner_local.evaluation.cache import config_description, config_key

    acc = _accuracy_script()
    path = acc.CACHE / "records" / f"{config_key(config_description(tagger, 'span'))[:32]}.jsonl"
    if not path.exists():
        return {}
    entries = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
            entries[entry["id"]] = entry["record"]
        except (ValueError, KeyError):
            continue  # a line an interruption cut
    return entries


def _prime(tagger, text: str) -> None:
    """Each model's KV cache holding this tagger's instructions only: what an earlier sentence of the
    same corpus leaves to the next (the instructions segment evaluated as the pipeline cuts it)."""
    from el4ner_local.llm.backend import TokenStats
    from el4ner_local.pipeline import prompts

    book = tagger.stages.book
    prompt = book.extract(book.shared(text))
    for m in tagger.models:
        m.reset()
        tokens, bounds = m._prompt_tokens(prompt, prompts.EXTRACT_PREFILL)
        m._eval_to(tokens[: bounds[0]], bounds[:1], TokenStats())


def side_by_side(n: int, drafts: list[int], against: str = "recording") -> dict:
    """Each sentence tagged by each configuration in turn, in this process (see the module's doc). `against`:
    "recording" (accuracy.py's recording tagger, with drafting off and on) or "default" (models.toml's
    default profile as `tag` runs it), each beside the fast profile."""
    from el4ner_local.evaluation.records import recording_tagger, sentence_id
    from el4ner_local.pipeline.stages import SentenceInput
    from el4ner_local.pipeline.tagger import Tagger

    acc = _accuracy_script()
    chosen = side_sample(n)
    # name -> (tagger kind, drafted tokens per generation step)
    if against == "recording":
        configs = {"accurate": ("accurate", 0), **{f"accurate+draft{d}": ("accurate", d) for d in drafts}}
    else:
        configs, drafts = {"default": ("default", 0)}, []
    configs["fast"] = ("fast", 0)
    taggers: dict[str, dict] = {}
    for corpus in dict.fromkeys(c for c, _ in chosen):
        index = acc.pool_of(corpus)
        fast = Tagger.load(models=ROOT / "models.toml", profile="fast", labels=list(index.labels), index=index)
        if against == "recording":
            accurate = recording_tagger(
                index, "span", models=acc.MODELS, overrides=acc.RUNS["whole-k4"], stages="typed"
            )
            taggers[corpus] = {"accurate": accurate, "fast": fast}
        else:
            taggers[corpus] = {
                "default": Tagger.load(models=ROOT / "models.toml", labels=list(index.labels), index=index)
            }
            taggers[corpus]["fast"] = fast
    recorded = {corpus: _recorded(t["accurate"]) for corpus, t in taggers.items() if "accurate" in t}
    for corpus, t in taggers.items():  # outside the timings: loading the models, the embedder, the index
        for m in [m for tagger in t.values() for m in tagger.models]:
            m.load()
        first = next(sent for c, sent in chosen if c == corpus)
        t["fast"].tag_sentence(SentenceInput(first.text, 0, [(a, b) for a, b in first.tokens]))
    rows = []
    for i, (corpus, sent) in enumerate(chosen, 1):
        row: dict = {"corpus": corpus, "text": sent.text}
        for name, (kind, draft) in configs.items():
            tagger = taggers[corpus][kind]
            for m in tagger.models:
                m.draft_tokens = draft
            _prime(tagger, sent.text)
            before = {m.name: (m.stats.copy(), list(m.drafts)) for m in tagger.models}
            stages = {key: value.copy() for key, value in tagger.stats.by_stage_model.items()}
            t0 = time.perf_counter()
            record = tagger.tag_sentence(SentenceInput(sent.text, 0, [(a, b) for a, b in sent.tokens]))
            wall = time.perf_counter() - t0
            used = [m.stats.minus(before[m.name][0]) for m in tagger.models]
            by_stage: dict = {}
            for (stage, model), value in tagger.stats.by_stage_model.items():
                spent = value.seconds - (stages[(stage, model)].seconds if (stage, model) in stages else 0.0)
                by_stage.setdefault(stage, {})[model] = round(spent, 3)
            row[name] = {
                "seconds": wall,
                "evaluated": sum(u.evaluated for u in used),
                "reused": sum(u.reused for u in used),
                "generated": sum(u.generated for u in used),
                "drafted": sum(m.drafts[0] - before[m.name][1][0] for m in tagger.models),
                "accepted": sum(m.drafts[1] - before[m.name][1][1] for m in tagger.models),
                "by_stage": by_stage,
                "record": json.dumps(record.to_json(), sort_keys=True),
            }
        row["identical"], row["as_recorded"], row["answers_changed"] = {}, None, {}
        if "accurate" in configs:
            old = recorded[corpus].get(sentence_id(sent.text))
            row["identical"] = {
                f"draft{d}": row["accurate"]["record"] == row[f"accurate+draft{d}"]["record"] for d in drafts
            }
            row["as_recorded"] = None if old is None else json.dumps(old, sort_keys=True) == row["accurate"]["record"]
            row["answers_changed"] = {
                d: _changed(row["accurate"]["record"], row[f"accurate+{d}"]["record"]) for d in row["identical"]
            }
        for name in configs:
            row[name]["record"] = hashlib.sha256(row[name]["record"].encode()).hexdigest()  # the JSON stays small
        rows.append(row)
        print(
            f"  {i}/{n} {corpus}: "
            + ", ".join(f"{name} {row[name]['seconds']:.1f} s" for name in configs)
            + f"; identical {row['identical']}; as recorded {row['as_recorded']}",
            file=sys.stderr,
            flush=True,
        )
    return {"against": against, "drafts": drafts, "configs": list(configs), "rows": rows}


def _changed(plain: str, other: str) -> list[dict]:
    """The model answers (SentenceRecord.raw) that differ between two records, and whether the accepted labels do."""
    a, b = json.loads(plain), json.loads(other)
    out = [
        {"stage": stage, "model": model, "plain": text, "changed": b["raw"].get(stage, {}).get(model)}
        for stage, answers in a["raw"].items()
        for model, text in answers.items()
        if b["raw"].get(stage, {}).get(model) != text
    ]
    labels = [sorted((c["start"], c["end"], c["label"]) for c in r["candidates"] if c["accepted"]) for r in (a, b)]
    return out + ([{"accepted labels": labels}] if labels[0] != labels[1] else [])


def side_report(result: dict) -> None:
    rows, configs = result["rows"], result["configs"]
    per = {
        name: {key: mean([r[name] for r in rows], key) for key in ("seconds", "evaluated", "reused", "generated")}
        for name in configs
    }
    result["summary"] = per
    print(f"{len(rows)} sentences (accuracy.py's dev samples, the four corpora in turn), per sentence:")
    for name, m in per.items():
        drafted = sum(r[name]["drafted"] for r in rows)
        accepted = sum(r[name]["accepted"] for r in rows)
        print(
            f"  {name:17} {m['seconds']:6.2f} s   evaluated {m['evaluated']:5.0f}  reused {m['reused']:5.0f}  "
            f"generated {m['generated']:4.0f}" + (f"  drafts accepted {accepted}/{drafted}" if drafted else "")
        )
    total = {name: sum(r[name]["seconds"] for r in rows) for name in configs}
    for name in configs:
        if name.startswith("accurate+"):
            same = sum(r["identical"][name.removeprefix("accurate+")] for r in rows)
            print(
                f"  accurate / {name}: {total['accurate'] / total[name]:.2f}x time; records identical {same} of {len(rows)}"
            )
    first = configs[0]
    evaluated = sum(r[first]["evaluated"] for r in rows) / max(sum(r["fast"]["evaluated"] for r in rows), 1)
    print(f"  {first} / fast: {total[first] / total['fast']:.2f}x time, {evaluated:.2f}x tokens evaluated")
    known = [r["as_recorded"] for r in rows if r["as_recorded"] is not None]
    if known:
        print(f"  accurate's records equal to accuracy.py's: {sum(known)} of {len(known)} recorded")
    for name in (first, "fast"):
        spent: dict = {}
        for r in rows:
            for stage, models in r[name]["by_stage"].items():
                for model, seconds in models.items():
                    spent[(stage, model)] = spent.get((stage, model), 0.0) + seconds
        print(
            f"  {name} by stage and model, s/sentence: "
            + ", ".join(f"{stage[:1]}/{model} {v / len(rows):.2f}" for (stage, model), v in sorted(spent.items()))
        )


def mean(rows, key):
    return sum(r[key] for r in rows) / max(len(rows), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=5)
    ap.add_argument("--baseline", help="git revision of an earlier pipeline to compare token counts with")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a [pipeline] setting for this run, e.g. --set k=2 (JSON value)",
    )
    ap.add_argument("--json", type=Path, help="write the full measurements here")
    ap.add_argument("--sentences", type=int, help="side by side (issue 18, see above) on this many dev sentences")
    ap.add_argument(
        "--draft", type=int, nargs="+", default=[4], help="with --sentences: drafted tokens per step, one run each"
    )
    ap.add_argument(
        "--against",
        choices=("recording", "default"),
        default="recording",
        help="with --sentences: what runs beside the fast profile (the recording tagger with drafts, or the default)",
    )
    args = ap.parse_args()
    if args.sentences:
        result = side_by_side(args.sentences, args.draft, args.against)
        side_report(result)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1))
        return

    report = {
        "commit": subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "sample": f"WNUT-17 test, first {args.limit} sentences over 40 chars",
    }
    if args.baseline:
        report["baseline"] = {"rev": args.baseline, **baseline(args.baseline, args.limit)}
    overrides = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    report["settings"] = overrides
    report["current"] = measure(args.limit, overrides)
    cur = report["current"]["rows"]
    for side in ("baseline", "current"):
        if side in report:
            report[side]["scores"] = scores(report[side]["rows"], sample(args.limit))
    print(f"commit {report['commit']}  {report['sample']}")
    print(f"bound (one pass per model, summed): {mean(cur, 'bound_s'):6.2f} s/sentence")
    print(
        f"pipeline (four stages):             {mean(cur, 'pipeline_s'):6.2f} s/sentence   "
        f"ratio {sum(r['pipeline_s'] for r in cur) / sum(r['bound_s'] for r in cur):.2f}x"
    )
    print(
        f"tokens per sentence: evaluated {mean(cur, 'evaluated'):.0f}, reused {mean(cur, 'reused'):.0f}, "
        f"generated {mean(cur, 'generated'):.0f}"
    )
    print(
        "F1 {f1:.3f} (P {precision:.3f} R {recall:.3f}, {gold} gold, {predicted} predicted)".format(
            **report["current"]["scores"]
        )
    )
    if args.baseline:
        base = report["baseline"]["rows"]
        print(
            f"baseline {args.baseline}: evaluated {mean(base, 'evaluated'):.0f}/sentence, "
            f"{mean(base, 'pipeline_s'):.2f} s/sentence -> {mean(base, 'evaluated') / max(mean(cur, 'evaluated'), 1):.2f}x "
            f"more tokens evaluated than now; "
            "F1 {f1:.3f} (P {precision:.3f} R {recall:.3f})".format(**report["baseline"]["scores"])
        )
    for stage, models in report["current"]["by_stage"].items():
        for model, st in models.items():
            print(
                f"  {stage:17} {model:20} eval {st['evaluated']:6} reuse {st['reused']:6} gen {st['generated']:5} "
                f"calls {st['calls']:4} {st['seconds']:7.2f}s"
            )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
