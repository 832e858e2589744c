"""Which raw confidence ranks right above wrong spans, and calibrates best (issue 14), on the recorded dev
records of the candidate ensemble (scripts/accuracy.py's `recorded`). No model call: every span is rescored.

    python scripts/confidence_study.py [--rule union|votes2|both] [--repeats 20]

Over the spans a vote rule accepts (labels and overlaps as the rule decides them), per corpus and pooled:
n spans (right), and for each candidate raw confidence and calibration fit:
  AUC      right against wrong, of the raw confidence (a learned one: of its held-out output);
  ECE raw  of the raw confidence as it is;
  2-fold   ECE and Brier score after a calibration fit on a random half of the corpus's sentences and
           scored on the other half (and back), the mean over --repeats halvings: a calibration per pool,
           what `index tune` gives;
  LOCO     ECE after a calibration fit on the other three corpora: one shipped for a pool nobody tuned.
Pooled: the held-out confidences of every corpus together (each corpus calibrated on its own halves).
The learned confidences (an L2-regularised logistic regression over per-member features) are fitted the
same ways; their output is the calibrated confidence. `floor`: the ECE a perfectly calibrated confidence
shows on that many spans (sampling noise alone; 10 equal-width bins), the least an ECE can be expected to be.
Then "classify" end to end: the rule with confidence_source = "classify", through votes.decide (so the
overlaps are resolved by it), and its F1 next to the rule's as it is. Last, `index tune`'s choice
(tuning.choose from the rule) on each corpus, 2-fold cross-fitted as its report gives it, as it was (the
vote's confidence, isotonic) and now (it also tries stage 3's confidence and the logistic fit).
Tables print as markdown (docs/calibration.md quotes them).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import numpy as np  # noqa: E402

from el4ner_local.evaluation.scoring import rescore  # noqa: E402
from el4ner_local.pipeline.calibration import (  # noqa: E402
    Calibration,
    brier_score,
    expected_calibration_error,
)
from el4ner_local.pipeline.votes import VoteRule  # noqa: E402

RULES = {  # the vote rules whose accepted spans are scored
    "union": VoteRule(extract_min_votes=1, type_source="extract", verify=False, weights={}),  # models.toml's vote
    "votes2": VoteRule(extract_min_votes=2, type_source="extract", verify=False, weights={}),  # the pooled choice
    "both": VoteRule(extract_min_votes=1, type_source="both", verify=False, weights={}),
}
FITS = {"isotonic": Calibration.fit, "logistic": Calibration.fit_logistic}
L2 = 1.0  # the logistic regressions' penalty (features in [0, 1]; the intercept is not penalised)


def spans(entries, gold, members: Sequence[str], rule: VoteRule) -> tuple[list[dict], float]:
    """One row per accepted span: its sentence, right (exact span and label), the rule's raw confidence and
    per-member features (extracted it, wrote the chosen label at extraction, stage-3 P(label)); and the F1."""
    res = rescore(entries, gold, rule, members)
    rows = []
    for i, (sent, cands) in enumerate(zip(gold, res.decided, strict=True)):
        truth = {(s.start, s.end, s.label) for s in sent.spans}
        for c in cands:
            if c.accepted and c.label:
                rows.append(
                    {
                        "sentence": i,
                        "right": (c.start, c.end, c.label) in truth,
                        "rule": c.confidence,
                        "extracted": [float(m in c.extracted_by) for m in members],
                        "wrote": [float(c.extracted_types.get(m) == c.label) for m in members],
                        "p": [c.type_probs.get(m, {}).get(c.label, 0.0) for m in members],
                    }
                )
    return rows, res.counts.f1


def mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


# name -> raw confidence of a row (nothing fitted). "support": the share of members that extracted the span;
# "label share": the share that extracted it with the chosen label; "stage-3 P": the members' mean P(label)
FIXED: dict[str, Callable[[dict], float]] = {
    "current: the vote's P x support": lambda r: r["rule"],
    "classify: stage-3 P x support": lambda r: mean(r["p"]) * mean(r["extracted"]),
    "stage-3 P x label share": lambda r: mean(r["p"]) * mean(r["wrote"]),
    "(label share + stage-3 P) / 2": lambda r: (mean(r["wrote"]) + mean(r["p"])) / 2,
    "stage-3 P": lambda r: mean(r["p"]),
    "stage-3 P, the 1.5B alone": lambda r: r["p"][-1],
}
OWN = "the rule's own (classify), end to end"  # the confidence votes.decide gave, for the end-to-end table
SCORES = {**FIXED, OWN: lambda r: r["rule"]}
# name -> features of a row for a logistic regression
LEARNED: dict[str, Callable[[dict], list[float]]] = {
    "LR per member: wrote label, stage-3 P (9 params)": lambda r: r["wrote"] + r["p"],
    "LR: label share, support, mean stage-3 P (4 params)": lambda r: [
        mean(r["wrote"]),
        mean(r["extracted"]),
        mean(r["p"]),
    ],
}


def auc(scores: Sequence[float], right: Sequence[bool]) -> float:
    pos = [s for s, ok in zip(scores, right, strict=True) if ok]
    neg = [s for s, ok in zip(scores, right, strict=True) if not ok]
    if not pos or not neg:
        return float("nan")
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def fit_logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """L2-penalised logistic regression by Newton's method: [intercept, coefficients]."""
    x = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(x.shape[1])
    penalty = L2 * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-x @ w))
        grad = x.T @ (p - y) + penalty @ w
        hess = x.T @ (x * (p * (1 - p))[:, None]) + penalty + 1e-9 * np.eye(len(w))
        w = w - np.linalg.solve(hess, grad)
    return w


def held_out(name: str, fit_name: str, fit: list[dict], score: list[dict]) -> list[float]:
    """Calibrated confidences of `score`'s rows, everything fitted on `fit` only."""
    y = [r["right"] for r in fit]
    if name in SCORES:
        cal = FITS[fit_name]([SCORES[name](r) for r in fit], y)
        return [cal.apply(SCORES[name](r)) for r in score]
    if len(set(y)) < 2:
        return [mean([float(v) for v in y]) if y else 0.5] * len(score)
    feats = LEARNED[name]
    w = fit_logistic(np.array([feats(r) for r in fit], float), np.array(y, float))
    return [float(1.0 / (1.0 + math.exp(-(w[0] + np.dot(w[1:], feats(r)))))) for r in score]


def halvings(rows: list[dict], repeats: int, seed: int = 0):
    """`repeats` random halvings of the corpus's sentences: (one half's rows, the other's)."""
    sentences = sorted({r["sentence"] for r in rows})
    rng = random.Random(seed)
    for _ in range(repeats):
        order = sentences[:]
        rng.shuffle(order)
        first = set(order[: len(order) // 2])
        yield [r for r in rows if r["sentence"] in first], [r for r in rows if r["sentence"] not in first]


def floor(conf: Sequence[float], draws: int = 200, seed: int = 0) -> float:
    """Mean ECE of `conf` against outcomes drawn from itself: what sampling noise alone shows."""
    rng = random.Random(seed)
    return mean([expected_calibration_error(conf, [rng.random() < c for c in conf]) for _ in range(draws)])


def measure(data: dict[str, list[dict]], name: str, fit_name: str, repeats: int) -> dict[str, dict]:
    """Per corpus and "pooled": n, right, auc, ece_raw, ece_2fold, brier_2fold, ece_loco, floor."""
    out: dict[str, dict] = {}
    pooled: list[list[tuple[float, bool]]] = [[] for _ in range(repeats)]
    raw_all: list[tuple[float, bool]] = []
    loco_all: list[tuple[float, bool]] = []
    for corpus, rows in data.items():
        y = [r["right"] for r in rows]
        eces, briers, aucs = [], [], []
        for k, (a, b) in enumerate(halvings(rows, repeats)):
            conf = held_out(name, fit_name, a, b) + held_out(name, fit_name, b, a)
            truth = [r["right"] for r in b] + [r["right"] for r in a]
            eces.append(expected_calibration_error(conf, truth))
            briers.append(brier_score(conf, truth))
            aucs.append(auc(conf, truth))
            pooled[k] += zip(conf, truth, strict=True)
        loco = held_out(name, fit_name, [r for c, rs in data.items() if c != corpus for r in rs], rows)
        loco_all += zip(loco, y, strict=True)
        row = {"n": len(rows), "right": sum(y), "ece_2fold": mean(eces), "brier_2fold": mean(briers)}
        row["ece_loco"] = expected_calibration_error(loco, y)
        row["floor"] = floor([c for c, _ in pooled[0][-len(rows) :]]) if rows else float("nan")
        if name in SCORES:
            raw = [SCORES[name](r) for r in rows]
            raw_all += zip(raw, y, strict=True)
            row.update(auc=auc(raw, y), ece_raw=expected_calibration_error(raw, y))
        else:
            row.update(auc=mean([a for a in aucs if not math.isnan(a)]), ece_raw=float("nan"))
        out[corpus] = row
    conf, truth = [c for c, _ in pooled[0]], [ok for _, ok in pooled[0]]
    out["pooled"] = {
        "n": len(truth),
        "right": sum(truth),
        # the corpora's raw confidences mixed rank across corpora too; the per-corpus calibrated ones do not
        # have to: the pooled AUC is of the held-out calibrated confidences
        "auc": mean([auc([c for c, _ in p], [ok for _, ok in p]) for p in pooled]),
        "ece_raw": expected_calibration_error(*zip(*raw_all, strict=True)) if raw_all else float("nan"),
        "ece_2fold": mean([expected_calibration_error([c for c, _ in p], [ok for _, ok in p]) for p in pooled]),
        "brier_2fold": mean([brier_score([c for c, _ in p], [ok for _, ok in p]) for p in pooled]),
        "ece_loco": expected_calibration_error(*zip(*loco_all, strict=True)),
        "floor": floor(conf),
    }
    return out


def table(title: str, data: dict[str, list[dict]], repeats: int, names: Sequence[str]) -> None:
    """A markdown table: a row per confidence and fit, a column per corpus and pooled."""
    corpora = [*data, "pooled"]
    print(f"\n{title}\n")
    print("cell: AUC / ECE raw / 2-fold ECE / 2-fold Brier / LOCO ECE\n")
    print("| confidence | fit | " + " | ".join(corpora) + " |")
    print("|---|---|" + "---|" * len(corpora))
    for name in names:
        for fit_name in FITS if name in SCORES else ["learned"]:
            res = measure(data, name, fit_name, repeats)
            cells = [
                f"{r['auc']:.2f} / {r['ece_raw']:.2f} / {r['ece_2fold']:.2f} / {r['brier_2fold']:.3f} / {r['ece_loco']:.2f}"
                for r in (res[c] for c in corpora)
            ]
            print(f"| {name} | {fit_name} | " + " | ".join(cells) + " |")
    res = measure(data, names[0], "isotonic", repeats)
    print(
        "| n spans (right); ECE floor | | "
        + " | ".join(f"{r['n']} ({r['right']}); {r['floor']:.2f}" for r in res.values())
        + " |"
    )


def main() -> None:
    from accuracy import SPLITS, recorded

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rule", choices=list(RULES), default="union")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--run", default="whole-k4")
    args = ap.parse_args()
    rule = RULES[args.rule]
    records = {}
    for corpus in SPLITS["dev"]:
        records[corpus] = recorded("dev", corpus, args.run)
        entries, gold, _ = records[corpus]
        print(f"dev {corpus}: {len(entries)} sentences, {sum(len(g.spans) for g in gold)} gold entities")
    print(f"rule {args.rule}: {rule.to_json()}")
    data = {c: spans(e, g, m, rule)[0] for c, (e, g, m) in records.items()}
    table("every candidate confidence, on the spans the rule accepts", data, args.repeats, [*FIXED, *LEARNED])
    classify = replace(rule, confidence_source="classify")
    ends = {c: spans(e, g, m, classify) for c, (e, g, m) in records.items()}
    table(
        'end to end: confidence_source = "classify" in votes.decide (its own overlaps and accepted spans)',
        {c: rows for c, (rows, _) in ends.items()},
        args.repeats,
        [OWN],
    )
    print('strict F1, the rule as it is -> with confidence_source = "classify":')
    for corpus, (e, g, m) in records.items():
        print(f"  {corpus:18s} {100 * spans(e, g, m, rule)[1]:5.1f} -> {100 * ends[corpus][1]:5.1f}")
    tuned(records, rule)


def tuned(records: dict, base: VoteRule) -> None:
    """tuning.choose per corpus from `base`, cross-fitted (2 folds): as it was, and now."""
    from contextlib import nullcontext
    from unittest import mock

    from el4ner_local.evaluation import tuning

    print("\nindex tune's choice per corpus (tuning.choose from the rule above), cross-fitted on 2 halves:")
    print("  F1 | ECE raw -> calibrated | Brier calibrated; chosen confidence (on the whole sample)")
    for corpus, (e, g, m) in records.items():
        cells = []
        as_it_was = mock.patch.multiple(tuning, CONFIDENCE_SOURCES=("vote",), FITS={"isotonic": Calibration.fit})
        for name, context in (("was", as_it_was), ("now", nullcontext())):
            with context:
                report = tuning.choose(e, g, m, base).report
            cf, chosen = report["cross_fitted"], report["calibration"].get("confidence", {}).get("chosen", {})
            cells.append(
                f"{name} {100 * cf['f1']:4.1f} | {cf['ece_before']:.2f} -> {cf['ece_after']:.2f} | "
                f"{cf['brier_after']:.3f}; {chosen.get('confidence_source', '-')} {chosen.get('fit', '')}"
            )
        print(f"  {corpus:18s} " + "   ".join(cells))


if __name__ == "__main__":
    main()
