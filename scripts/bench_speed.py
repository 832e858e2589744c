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
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
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
        for m in tagger.models:
            m.reset()
            m.generate(book.extract(""), max_tokens=1)  # only the instructions cached, as in steady state
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
    args = ap.parse_args()

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
