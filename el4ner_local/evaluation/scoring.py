"""Numbers from the records, without any model call: seqeval P/R/F1 of any vote rule (the members alone,
the ablations) and the throughput measured when each sentence was recorded.

A rule is applied with `votes.decide` to restricted copies of the recorded candidates. When it picks
another label than the one that was verified (records.RECORDING), no verification of that label exists;
the candidate is then judged unverified (as `decide` does for a candidate without verification) and the
report counts how often that happened (`unverified`).
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from ..documents import LabelledSentence, Span, bio_tags
from ..pipeline.lexicon import Lexicon, LexiconMatch
from ..pipeline.records import Candidate
from ..pipeline.votes import VoteRule, classify, decide
from .records import sentence_id


@dataclass
class Counts:
    """Entity-level counts: true positives, predicted, gold; per type too."""

    tp: int = 0
    pred: int = 0
    gold: int = 0
    by_type: dict[str, list[int]] = field(default_factory=dict)  # label -> [tp, pred, gold]

    def add(self, gold: set, pred: set) -> None:
        self.tp += len(gold & pred)
        self.pred += len(pred)
        self.gold += len(gold)
        for which, items in ((0, gold & pred), (1, pred), (2, gold)):
            for *_, label in items:
                self.by_type.setdefault(label, [0, 0, 0])[which] += 1

    @staticmethod
    def prf(tp: int, pred: int, gold: int) -> tuple[float, float, float]:
        p = tp / pred if pred else 0.0
        r = tp / gold if gold else 0.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)

    @property
    def f1(self) -> float:
        return self.prf(self.tp, self.pred, self.gold)[2]


def accepted_spans(candidates: Iterable[Candidate]) -> list[Span]:
    return [Span(c.start, c.end, c.label) for c in candidates if c.accepted and c.label]


def entity_set(tags: list[str]) -> set[tuple[int, int, str]]:
    """Strict IOB2 entities (token start, token end, type): a span starts with B- and continues with I- of its type."""
    out: set[tuple[int, int, str]] = set()
    start: int | None = None
    label = ""  # the type of the entity begun at `start`
    for i, tag in enumerate(list(tags) + ["O"]):
        if start is not None and not (tag.startswith("I-") and tag[2:] == label):
            out.add((start, i, label))
            start = None
        if tag.startswith("B-"):
            start, label = i, tag[2:]
    return out


def seqeval_scores(gold_tags: list[list[str]], pred_tags: list[list[str]]) -> dict:
    """Strict entity-level precision, recall, micro-F1 and per type, by seqeval (mode='strict', IOB2)."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    kw = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    with warnings.catch_warnings():  # numpy's "mean of empty slice" when a sample has no entity at all
        warnings.simplefilter("ignore", RuntimeWarning)
        report = classification_report(gold_tags, pred_tags, output_dict=True, **kw)
    per_type = {
        label: {
            "precision": round(v["precision"], 4),
            "recall": round(v["recall"], 4),
            "f1": round(v["f1-score"], 4),
            "support": int(v["support"]),
        }
        for label, v in report.items()
        if not label.endswith(" avg")
    }
    return {
        "precision": round(precision_score(gold_tags, pred_tags, **kw), 4),
        "recall": round(recall_score(gold_tags, pred_tags, **kw), 4),
        "f1": round(f1_score(gold_tags, pred_tags, **kw), 4),
        "per_type": per_type,
    }


def restrict(
    cand: Candidate, models: set[str] | None, verifiers: set[str] | None = None, zero_shot: bool = True
) -> Candidate | None:
    """A copy of the candidate holding only what `models` said (None: all), and only the verification
    answers of `verifiers` (None: all); without `zero_shot`, votes that came only from the zero-shot
    stage-1 answers are taken out. None when no vote is left."""
    # shallow: the fields below are replaced, never changed in place, and decide sets only plain values
    # (a deep copy was most of the time of every rescoring)
    c = copy.copy(cand)
    zs = set(getattr(c, "zero_shot_only", []) or [])
    if not zero_shot and zs:
        c.extracted_by = [m for m in c.extracted_by if m not in zs]
        c.extracted_types = {m: t for m, t in c.extracted_types.items() if m not in zs}
        c.zero_shot_only = []
        if not c.extracted_by:
            return None
    if models is not None:
        c.extracted_by = [m for m in c.extracted_by if m in models]
        if not c.extracted_by:
            return None
        c.extracted_types = {m: t for m, t in c.extracted_types.items() if m in models}
        c.type_probs = {m: p for m, p in c.type_probs.items() if m in models}
        if hasattr(c, "zero_shot_only"):
            c.zero_shot_only = [m for m in c.zero_shot_only if m in models]
    if verifiers is not None:
        c.verification = {m: p for m, p in c.verification.items() if m in verifiers}
    return c


@dataclass
class Rescored:
    tags: list[list[str]]
    counts: Counts
    unverified: int  # accepted labels with no verification answer for that label (see module doc)
    decided: list[list[Candidate]] = field(default_factory=list)  # per sentence, its candidates after the vote


def rescore(
    entries: Sequence[dict],
    gold: Sequence[LabelledSentence],
    rule: VoteRule,
    models: Sequence[str] | None = None,
    verifiers: Sequence[str] | None = None,
    n_models: int | None = None,
    zero_shot: bool = True,
) -> Rescored:
    """Apply `rule` (votes.decide) to the recorded candidates, restricted to `models` (and their
    verification to `verifiers`), with what the entries hold of the pool's words (with_lexicon), and
    return BIO tags over the gold tokens plus exact-match counts."""
    keep = set(models) if models is not None else None
    vkeep = set(verifiers) if verifiers is not None else None
    all_models = {m for e in entries for m in e["record"].get("raw", {}).get("extraction", {})} | {
        m for e in entries for c in e["record"]["candidates"] for m in c["extracted_by"]
    }
    n = n_models or (len(keep) if keep is not None else max(len(all_models), 1))
    tags, counts, unverified = [], Counts(), 0
    decided: list[list[Candidate]] = []
    for entry, sent in zip(entries, gold, strict=True):
        assert entry["id"] == sentence_id(sent.text), "records and gold sentences out of step"
        cands = []
        for raw, verified in zip(
            entry["record"]["candidates"],
            entry.get("verified_labels") or [None] * len(entry["record"]["candidates"]),
            strict=True,
        ):
            c = restrict(Candidate.from_json(raw), keep, vkeep, zero_shot)
            if c is None:
                continue
            if rule.verify and c.verification:
                label, _ = classify(c, rule)
                if label != verified:  # the verifiers were asked about another label: no answer for this one
                    c.verification = {}
                    if label is not None and len(c.extracted_by) >= rule.extract_min_votes:
                        unverified += 1
            elif rule.verify and not c.verification:
                label, _ = classify(c, rule)
                if label is not None and len(c.extracted_by) >= rule.extract_min_votes:
                    unverified += 1
            cands.append(c)
        decide(cands, n, rule, [LexiconMatch.from_json(m) for m in entry.get("lexicon", ())])
        decided.append(cands)
        pred = bio_tags([(a, b) for a, b in sent.tokens], accepted_spans(cands))
        gold_tags = bio_tags([(a, b) for a, b in sent.tokens], list(sent.spans))
        tags.append(pred)
        counts.add(entity_set(gold_tags), entity_set(pred))
    return Rescored(tags, counts, unverified, decided)


def with_lexicon(entries: Sequence[dict], gold: Sequence[LabelledSentence], lexicon: Lexicon) -> list[dict]:
    """Copies of the entries, each with what the pool knows of its sentence's words ("lexicon": the names in
    it and the recorded candidates it leaves unlabelled), which rescore gives decide, as the tagger does. It
    comes from the pool, not from the models, so the records do not hold it."""
    out = []
    for entry, sent in zip(entries, gold, strict=True):
        spans = [(c["start"], c["end"]) for c in entry["record"]["candidates"]]
        found = lexicon.matches(sent.text, sent.tokens) + lexicon.unlabelled(sent.text, sent.tokens, spans)
        out.append({**entry, "lexicon": [m.to_json() for m in found]})
    return out


def without_zero_shot(entries: Sequence[dict]) -> list[dict]:
    """Copies of the records with the votes that came only from the models' zero-shot (stage-1) answers
    taken out (`restrict`), a candidate left with no vote dropped: what a pipeline with zero_shot_votes =
    false would have counted, for code that rescores the records many times (tuning.choose)."""
    out = []
    for entry in entries:
        raws = entry["record"]["candidates"]
        verified = entry.get("verified_labels") or [None] * len(raws)
        kept = [
            (c.to_json(), label)
            for raw, label in zip(raws, verified, strict=True)
            if (c := restrict(Candidate.from_json(raw), None, zero_shot=False)) is not None
        ]
        copied = {**entry, "record": {**entry["record"], "candidates": [c for c, _ in kept]}}
        if "verified_labels" in entry:
            copied["verified_labels"] = [label for _, label in kept]
        out.append(copied)
    return out


def gold_tags(gold: Sequence[LabelledSentence]) -> list[list[str]]:
    return [bio_tags([(a, b) for a, b in s.tokens], list(s.spans)) for s in gold]


def score_entries(entries, gold, rule: VoteRule, models=None, verifiers=None, zero_shot: bool = True) -> dict:
    """seqeval P/R/F1 (micro and per type) of a rule over the records, with the count of unverified accepts.
    `zero_shot`: count the models' stage-1 (zero-shot) spans as extraction votes (when they were recorded so)."""
    res = rescore(entries, gold, rule, models, verifiers, zero_shot=zero_shot)
    out = seqeval_scores(gold_tags(gold), res.tags)
    out["unverified"] = res.unverified
    out["counts"] = {"tp": res.counts.tp, "pred": res.counts.pred, "gold": res.counts.gold}
    return out


def rule_dict(rule: VoteRule) -> dict:
    return dataclasses.asdict(rule)


def estimate_weights(entries, gold, models: Sequence[str], rule: VoteRule, floor: float = 0.05) -> dict[str, float]:
    """Each member's weight = its F1 alone (same rule, no verification, calibration or thresholds, its own
    answers only), divided by the best member's; at least `floor`."""
    rule = replace(rule, verify=False, weights={}, extract_min_votes=1, calibration=None, label_thresholds={})
    f1 = {m: rescore(entries, gold, rule, [m]).counts.f1 for m in models}
    top = max(f1.values()) or 1.0
    return {m: round(max(v / top, floor), 4) for m, v in f1.items()}


def ablations(entries, gold, rule: VoteRule, members: Sequence[str], zero_shot: bool = True) -> dict:
    """Aggregation ablations rescored from the records (no model calls): each flips one part of `rule`.
    `zero_shot`: whether `rule` counts the models' zero-shot spans as votes."""
    out = {}
    if rule.verify:
        out["no verification"] = score_entries(entries, gold, replace(rule, verify=False), zero_shot=zero_shot)
    else:
        out[f"verification (all models, P(yes) >= {rule.verify_threshold})"] = score_entries(
            entries, gold, replace(rule, verify=True), zero_shot=zero_shot
        )
    if any("lexicon" in e for e in entries):  # what the pool knows of words (with_lexicon)
        name = "without the pool's names" if rule.lexicon else "with the pool's names"
        out[name] = score_entries(entries, gold, replace(rule, lexicon=not rule.lexicon), zero_shot=zero_shot)
        name = f"{'keeping' if rule.lexicon_filter else 'rejecting'} the words the pool leaves unlabelled"
        flipped = replace(rule, lexicon_filter=not rule.lexicon_filter)
        out[name] = score_entries(entries, gold, flipped, zero_shot=zero_shot)
    if any(c.get("zero_shot_only") for e in entries for c in e["record"]["candidates"]):
        name = "no zero-shot votes" if zero_shot else "zero-shot votes counted"
        out[name] = score_entries(entries, gold, rule, zero_shot=not zero_shot)
    for ev in range(1, len(members) + 1):
        name = "union at extraction (1 vote)" if ev == 1 else f"vote at extraction ({ev} of {len(members)})"
        out[name] = score_entries(entries, gold, replace(rule, extract_min_votes=ev), zero_shot=zero_shot)
    for source in ("classify", "extract", "both"):
        out[f"type source: {source}"] = score_entries(
            entries, gold, replace(rule, type_source=source), zero_shot=zero_shot
        )
    # weights estimated on one half of the sample, applied to the other half (2-fold cross-fitting)
    if len(members) > 1 and len(entries) >= 4:
        halves = [list(range(0, len(entries), 2)), list(range(1, len(entries), 2))]
        tags: dict[int, list[str]] = {}
        for fit, apply in (halves, halves[::-1]):
            w = estimate_weights([entries[i] for i in fit], [gold[i] for i in fit], members, rule)
            res = rescore(
                [entries[i] for i in apply], [gold[i] for i in apply], replace(rule, weights=w), zero_shot=zero_shot
            )
            tags.update(zip(apply, res.tags, strict=True))
        ordered = [tags[i] for i in range(len(entries))]
        out["weights from members' F1 (2-fold)"] = {**seqeval_scores(gold_tags(gold), ordered)}
    return out


def throughput(entries: Sequence[dict]) -> dict:
    """Seconds and tokens per sentence from the entries (measured when each sentence was computed)."""
    n = len(entries)
    if not n:
        return {}
    seconds = sum(e.get("seconds", 0.0) for e in entries)
    per: dict = {}
    for e in entries:
        for stage, models in e.get("stats", {}).items():
            for model, st in models.items():
                slot = per.setdefault(stage, {}).setdefault(
                    model, {"evaluated": 0, "reused": 0, "generated": 0, "calls": 0, "seconds": 0.0}
                )
                for key in slot:
                    slot[key] += st.get(key, 0)
    per_sentence = {
        stage: {model: {k: round(v / n, 2) for k, v in st.items()} for model, st in models.items()}
        for stage, models in sorted(per.items())
    }
    return {
        "sentences": n,
        "seconds": round(seconds, 1),
        "sentences_per_second": round(n / seconds, 4) if seconds else None,
        "seconds_per_sentence": round(seconds / n, 2),
        "tokens_per_sentence": per_sentence,
        "peak_rss_mb": max((e.get("peak_rss_mb", 0.0) for e in entries), default=0.0),
    }
