"""The pool chooses the rule (issue 14): from records of a labelled sample (records.run_records, taken with
extraction and stage-3 types, no verification), the vote rule that scores best on it, a calibration of its
confidence and per-label thresholds. No model call: every rule is rescored from the records (scoring.py).

The sample is small (a few dozen sentences), so the search is too: a vote threshold of 1 to every member,
one of the three type sources, uniform weights or the members' F1 (or the base rule's own), and, when the
entries carry what the pool knows of their words (scoring.with_lexicon), the pool's names on or off and its
unlabelled words rejected or not (pipeline/lexicon.py), nothing else. Ties go to the grid point nearest the base rule, so the pool moves the rule only when it scores better. The
report says how much of the gain is real: the whole procedure is also cross-fitted (chosen on one half,
scored on the other). The in-sample F1 and ECE after calibration flatter the choice (an isotonic fit
scored on its own sample is near 0); the cross-fitted ones are what a new sample would see.

The confidence is chosen after the rule: where it takes its type probability from (the rule's type vote, or
the members' stage-3 answers: votes.raw_confidence) and how it is calibrated (isotonic or logistic), by the
Brier score of a calibration fit on one half of the sample and scored on the other (both ways), among the
confidence sources that keep the rule's F1 on the sample (the confidence also decides overlaps). On the
dev records stage 3's probability ranks right above wrong spans better than the extraction vote's on every
corpus, and on small samples a two-parameter logistic fit of a many-valued confidence often generalises
better than isotonic steps; which wins on a pool is its own held-out halves' call (docs/calibration.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..config import CONFIDENCE_SOURCES, TYPE_SOURCES
from ..documents import LabelledSentence
from ..pipeline.calibration import Calibration, brier_score, expected_calibration_error, reliability_table
from ..pipeline.votes import VoteRule
from .scoring import Counts, Rescored, estimate_weights, rescore, without_zero_shot

THRESHOLDS = tuple(round(0.1 * i, 1) for i in range(1, 10))  # per-label thresholds tried
LABEL_MIN_PREDICTIONS = 5  # a label needs this many accepted spans for a threshold to be tried
THRESHOLD_MIN_GAIN = 0.005  # a threshold is kept when it raises F1 by at least this (0.5 points)
CALIBRATION_MIN_SAMPLES = 10  # fewer accepted spans: no calibration (a fit on a handful is noise)
FITS = {"isotonic": Calibration.fit, "logistic": Calibration.fit_logistic}  # tried in this order (ties: first)


@dataclass
class Tuning:
    """The chosen rule and the report of how it was chosen (both JSON-able through to_dict)."""

    rule: VoteRule
    report: dict

    def to_dict(self) -> dict:
        return {"rule": self.rule.to_json(), "report": self.report}

    @classmethod
    def from_dict(cls, data: dict) -> Tuning:
        return cls(VoteRule.from_json(data["rule"]), dict(data.get("report", {})))


def judged(res: Rescored, gold: Sequence[LabelledSentence]) -> list[tuple[float, bool, str]]:
    """(confidence, right, label) of every accepted span of a rescoring: right when its start, end and
    label are those of a gold span (offsets relative to the sentence, as the records hold them)."""
    out = []
    for sent, cands in zip(gold, res.decided, strict=True):
        spans = {(s.start, s.end, s.label) for s in sent.spans}
        out += [(c.confidence, (c.start, c.end, c.label) in spans, c.label) for c in cands if c.accepted and c.label]
    return out


def decided(
    entries: Sequence[dict], gold: Sequence[LabelledSentence], rule: VoteRule, members: Sequence[str] | None = None
) -> list[tuple[float, bool]]:
    """(confidence, right) of every span `rule` accepts in the records (of `members` only, when given)."""
    return [(conf, ok) for conf, ok, _ in judged(rescore(entries, gold, rule, members), gold)]


def choose(
    entries: Sequence[dict],
    gold: Sequence[LabelledSentence],
    members: Sequence[str],
    base: VoteRule,
    *,
    zero_shot: bool = True,
) -> Tuning:
    """The rule the records of `members` score best under (strict micro F1), calibrated and with the
    per-label thresholds that raise F1; the report also holds the cross-fitted F1 and ECE (2 folds).
    Without `zero_shot`, the models' zero-shot (stage-1) spans recorded as votes are not counted, as in a
    pipeline with zero_shot_votes = false (records.RECORDING counts them)."""
    if not zero_shot:
        entries = without_zero_shot(entries)
    tuning = _choose(entries, gold, members, base)
    tuning.report["cross_fitted"] = _cross_fit(entries, gold, members, base)
    return tuning


def _f1(entries, gold, rule: VoteRule, members) -> float:
    return round(rescore(entries, gold, rule, members).counts.f1, 4)


def _grid(entries, gold, members: list[str], base: VoteRule) -> list[tuple[dict, VoteRule]]:
    """The rules tried, nearest the base rule first: (what they are, the rule)."""
    neutral = replace(base, verify=False, calibration=None, label_thresholds={})
    typed = any(c.get("type_probs") for e in entries for c in e["record"]["candidates"])
    sources = [t for t in TYPE_SOURCES if typed or t == "extract"]  # lean records hold extraction types only
    sources.sort(key=lambda t: (t != base.type_source, ("extract", "classify", "both").index(t)))
    # a pool whose names mislead the models may need every member to agree (4 votes on NCBI: docs/recall.md)
    votes = sorted(range(1, len(members) + 1), key=lambda v: (abs(v - base.extract_min_votes), v))
    # what the pool knows of words (names accepted, unlabelled words rejected), when the entries carry it
    lexicons = [(base.lexicon, base.lexicon_filter)]
    if any("lexicon" in e for e in entries):
        lexicons += sorted(p for p in itertools.product((False, True), (False, True)) if p != lexicons[0])
    own = {m: w for m, w in base.weights.items() if m in members}
    weightings = (["base"] if any(w != 1.0 for w in own.values()) else []) + ["uniform", "f1"]
    estimated = {t: estimate_weights(entries, gold, members, replace(neutral, type_source=t)) for t in sources}
    points = []
    for v in votes:
        for t in sources:
            for w in weightings:
                for lex, filt in lexicons:
                    weights = own if w == "base" else {} if w == "uniform" else estimated[t]
                    rule = replace(
                        neutral,
                        extract_min_votes=v,
                        type_source=t,
                        weights=dict(weights),
                        lexicon=lex,
                        lexicon_filter=filt,
                    )
                    nearness = (
                        (v != base.extract_min_votes) + (t != base.type_source) + (w != weightings[0]),
                        lexicons.index((lex, filt)),
                        votes.index(v),
                        sources.index(t),
                        weightings.index(w),
                    )
                    what = {
                        "extract_min_votes": v,
                        "type_source": t,
                        "weights": w,
                        "lexicon": lex,
                        "lexicon_filter": filt,
                    }
                    points.append((nearness, what, rule))
    points.sort(key=lambda p: p[0])
    return [(what, rule) for _, what, rule in points]


def _halves(n: int) -> list[list[int]]:
    return [list(range(0, n, 2)), list(range(1, n, 2))]


def _held_out_confidences(entries, gold, rule: VoteRule, members, fit: str) -> list[tuple[float, bool]]:
    """(confidence, right) of every accepted span, calibrated (`fit`) on the other half of the sample."""
    out = []
    for fit_half, held in (_halves(len(entries)), _halves(len(entries))[::-1]):
        raw = decided([entries[i] for i in fit_half], [gold[i] for i in fit_half], rule, members)
        cal = FITS[fit]([c for c, _ in raw], [ok for _, ok in raw])
        held_raw = decided([entries[i] for i in held], [gold[i] for i in held], rule, members)
        out += [(cal.apply(c), ok) for c, ok in held_raw]
    return out


def _confidence(entries, gold, rule: VoteRule, members) -> tuple[VoteRule, str, dict]:
    """The confidence source and calibration fit with the lowest Brier score on held-out halves, among the
    sources that keep the rule's F1 on the sample; ties go to the rule's own source and the isotonic fit."""
    typed = any(c.get("type_probs") for e in entries for c in e["record"]["candidates"])
    sources = sorted(
        (s for s in CONFIDENCE_SOURCES if typed or s == rule.confidence_source),
        key=lambda s: s != rule.confidence_source,
    )
    f1 = _f1(entries, gold, rule, members)
    options: list[dict] = []
    best: tuple[float, str, VoteRule] | None = None  # (held-out Brier, fit, rule)
    for source in sources:
        sourced = replace(rule, confidence_source=source)
        source_f1 = _f1(entries, gold, sourced, members)
        for fit in FITS:
            held = _held_out_confidences(entries, gold, sourced, members, fit)
            conf, right = [c for c, _ in held], [ok for _, ok in held]
            brier = round(brier_score(conf, right), 4)
            options.append(
                {
                    "confidence_source": source,
                    "fit": fit,
                    "f1": source_f1,
                    "brier_held_out": brier,
                    "ece_held_out": round(expected_calibration_error(conf, right), 4),
                }
            )
            if source_f1 >= f1 and (best is None or brier < best[0]):
                best = (brier, fit, sourced)
    assert best is not None  # the rule's own source keeps its F1
    _, fit, sourced = best
    return sourced, fit, {"tried": options, "chosen": {"confidence_source": sourced.confidence_source, "fit": fit}}


def _calibrate(entries, gold, rule: VoteRule, members) -> tuple[VoteRule, dict]:
    raw = decided(entries, gold, rule, members)
    report: dict = {"samples": len(raw)}
    if len(raw) < CALIBRATION_MIN_SAMPLES:
        report["ece_before"] = round(expected_calibration_error([c for c, _ in raw], [ok for _, ok in raw]), 4)
        report["points"] = None
        report["why_none"] = f"{len(raw)} accepted spans (a calibration needs {CALIBRATION_MIN_SAMPLES})"
        return rule, report
    rule, fit, report["confidence"] = _confidence(entries, gold, rule, members)
    raw = decided(entries, gold, rule, members)
    confs, rights = [c for c, _ in raw], [ok for _, ok in raw]
    report.update(samples=len(raw), ece_before=round(expected_calibration_error(confs, rights), 4))
    calibrated = replace(rule, calibration=FITS[fit](confs, rights))
    after = decided(entries, gold, calibrated, members)
    report.update(
        points=calibrated.calibration.to_list() if calibrated.calibration else None,
        ece_after=round(expected_calibration_error([c for c, _ in after], [ok for _, ok in after]), 4),
        reliability_before=reliability_table(confs, rights),
        reliability_after=reliability_table([c for c, _ in after], [ok for _, ok in after]),
    )
    return calibrated, report


def _thresholds(entries, gold, rule: VoteRule, members) -> tuple[VoteRule, dict]:
    """Per label, in turn (alphabetically), the threshold that most raises F1 with those already kept; kept
    when it raises F1 by THRESHOLD_MIN_GAIN or more. Ties go to the lower threshold."""
    counts: dict[str, int] = {}
    for _, _, label in judged(rescore(entries, gold, rule, members), gold):
        counts[label] = counts.get(label, 0) + 1
    kept: dict[str, float] = {}
    current = _f1(entries, gold, rule, members)
    tried = {}
    for label in sorted(counts):
        if counts[label] < LABEL_MIN_PREDICTIONS:
            continue
        scores = {
            t: _f1(entries, gold, replace(rule, label_thresholds={**kept, label: t}), members) for t in THRESHOLDS
        }
        best = max(THRESHOLDS, key=lambda t: (scores[t], -t))
        gain = round(scores[best] - current, 4)
        tried[label] = {"predictions": counts[label], "best": best, "gain": gain}
        if gain >= THRESHOLD_MIN_GAIN:
            kept[label], current = best, scores[best]
    return replace(rule, label_thresholds=kept), {"kept": kept, "tried": tried}


def _choose(entries, gold, members: Sequence[str], base: VoteRule) -> Tuning:
    members = list(members)
    if not members:
        raise ValueError("choose needs at least one member")
    grid = []
    chosen: tuple[dict, VoteRule] | None = None
    best = -1.0
    for what, rule in _grid(entries, gold, members, base):
        f1 = _f1(entries, gold, rule, members)
        grid.append({**what, "f1": f1})
        if f1 > best:  # strictly: a tie keeps the earlier (nearer the base) rule
            chosen, best = (what, rule), f1
    assert chosen is not None
    what, rule = chosen
    alone = replace(rule, extract_min_votes=1, weights={})
    rule, calibration = _calibrate(entries, gold, rule, members)
    rule, thresholds = _thresholds(entries, gold, rule, members)
    report = {
        "sentences": len(entries),
        "gold_entities": sum(len(s.spans) for s in gold),
        "members": members,
        "base": {"rule": base.to_json(), "f1": _f1(entries, gold, base, members)},
        "members_alone": {m: _f1(entries, gold, alone, [m]) for m in members},
        "grid": grid,
        "chosen": {**what, "f1": best, "weights_used": dict(sorted(rule.weights.items()))},
        "calibration": calibration,
        "thresholds": thresholds,
        "f1": _f1(entries, gold, rule, members),
    }
    return Tuning(rule, report)


def _cross_fit(entries, gold, members: Sequence[str], base: VoteRule) -> dict:
    """The whole of `_choose` fit on one half of the sample (every other sentence) and scored on the other,
    both ways: F1 and ECE as a new sample would see them (the in-sample numbers flatter the choice)."""
    if len(entries) < 4:
        return {"skipped": f"{len(entries)} sentences (cross-fitting needs 4)"}
    halves = _halves(len(entries))
    tp = pred = n_gold = 0
    after: list[tuple[float, bool]] = []
    before: list[tuple[float, bool]] = []
    for fit, held in (halves, halves[::-1]):
        rule = _choose([entries[i] for i in fit], [gold[i] for i in fit], members, base).rule
        held_entries, held_gold = [entries[i] for i in held], [gold[i] for i in held]
        res = rescore(held_entries, held_gold, rule, members)
        tp, pred, n_gold = tp + res.counts.tp, pred + res.counts.pred, n_gold + res.counts.gold
        after += [(c, ok) for c, ok, _ in judged(res, held_gold)]
        before += decided(held_entries, held_gold, replace(rule, calibration=None, label_thresholds={}), members)
    return {
        "folds": 2,
        "f1": round(Counts.prf(tp, pred, n_gold)[2], 4),
        "counts": {"tp": tp, "pred": pred, "gold": n_gold},  # over both held-out halves: P and R, pooling
        "ece_before": round(expected_calibration_error([c for c, _ in before], [ok for _, ok in before]), 4),
        "ece_after": round(expected_calibration_error([c for c, _ in after], [ok for _, ok in after]), 4),
        "brier_after": round(brier_score([c for c, _ in after], [ok for _, ok in after]), 4),
    }
