"""How the ensemble's answers combine after each stage. Pure functions over the records, so the
evaluation can rescore other rules without rerunning any model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace

from ..config import PipelineSettings
from .calibration import Calibration
from .lexicon import NOT_A_NAME, LexiconMatch
from .records import Candidate

NONE = "none"
_DEFAULT = PipelineSettings()  # the rule's defaults are the pipeline's (config.py), not a second set


@dataclass(frozen=True)
class VoteRule:
    extract_min_votes: int = _DEFAULT.extract_min_votes  # models that must extract a span: 1 = union (recall)
    type_source: str = (
        _DEFAULT.type_source
    )  # "classify" (log-prob answers), "extract" (types written at extraction), "both"
    # where the confidence's type probability comes from: "vote" (the type source's), "classify" (stage 3's)
    confidence_source: str = _DEFAULT.confidence_source
    classify_threshold: float = _DEFAULT.classify_threshold  # least combined probability the winning label needs
    verify: bool = _DEFAULT.verify
    verify_threshold: float = _DEFAULT.verify_threshold  # least mean P(yes) over the verifiers
    weights: dict[str, float] = field(
        default_factory=lambda: dict(_DEFAULT.weights)
    )  # per-model vote weight (default 1)
    # raw confidence -> P(right), fit on a labelled sample (evaluation/tuning.py); None: the raw confidence
    calibration: Calibration | None = None  # (models.toml's built-in default has none)
    # label -> least (calibrated) confidence a span of that label needs; a label not named has none
    label_thresholds: dict[str, float] = field(default_factory=lambda: dict(_DEFAULT.thresholds))
    # accept the names the pool knows (lexicon.py) where no accepted span overlaps them
    lexicon: bool = _DEFAULT.lexicon
    # reject a span whose words the pool holds often and leaves unlabelled (lexicon.py)
    lexicon_filter: bool = _DEFAULT.lexicon_filter

    @classmethod
    def from_settings(cls, settings: PipelineSettings, models: Sequence[str] | None = None) -> VoteRule:
        """The vote rule of the settings; with `models`, only their weights (a tagger built with some of
        the configured models weighs their votes against each other, not against absent ones) and at most
        one extraction vote each (`--only one-model`, or a file of one model under the default 2 votes,
        would otherwise accept nothing)."""
        weights = {m: w for m, w in settings.weights if models is None or m in models}
        votes = settings.extract_min_votes if models is None else max(1, min(settings.extract_min_votes, len(models)))
        return cls(
            extract_min_votes=votes,
            type_source=settings.type_source,
            confidence_source=settings.confidence_source,
            classify_threshold=settings.classify_threshold,
            verify=settings.verify,
            verify_threshold=settings.verify_threshold,
            weights=weights,
            calibration=Calibration(settings.calibration) if settings.calibration else None,
            label_thresholds=dict(settings.thresholds),
            lexicon=settings.lexicon,
            lexicon_filter=settings.lexicon_filter,
        )

    def weight(self, model: str) -> float:
        return self.weights.get(model, 1.0)

    def to_json(self) -> dict:
        """Every field, JSON-able (the calibration as its [raw, p] points, None when there is none)."""
        return {
            **{f.name: getattr(self, f.name) for f in fields(self)},
            "weights": dict(sorted(self.weights.items())),
            "calibration": self.calibration.to_list() if self.calibration is not None else None,
            "label_thresholds": dict(sorted(self.label_thresholds.items())),
        }

    @classmethod
    def from_json(cls, data: dict) -> VoteRule:
        """The rule of `to_json`'s dict; a field it leaves out takes the default, one it does not know is
        ignored. A malformed value raises TypeError or ValueError (callers turn that into a UserError)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if values.get("calibration") is not None:
            values["calibration"] = Calibration.from_list(values["calibration"])
        for key in ("weights", "label_thresholds"):
            if key in values:
                values[key] = {str(k): float(v) for k, v in dict(values[key]).items()}
        return cls(**values)


def type_distribution(cand: Candidate, rule: VoteRule) -> dict[str, float]:
    """Weighted mean over models of each model's distribution over labels and 'none'."""
    per_model: dict[str, dict[str, float]] = {}
    if rule.type_source in ("classify", "both"):
        for model, probs in cand.type_probs.items():
            per_model[model] = dict(probs)
    if rule.type_source in ("extract", "both"):
        for model, label in cand.extracted_types.items():
            if not label:
                continue
            onehot = {label: 1.0}
            if model in per_model:  # average the model's two answers
                mixed = {
                    k: 0.5 * per_model[model].get(k, 0.0) + 0.5 * onehot.get(k, 0.0)
                    for k in set(per_model[model]) | set(onehot)
                }
                per_model[model] = mixed
            else:
                per_model[model] = onehot
    total_w = sum(rule.weight(m) for m in per_model)
    if not total_w:
        return {}
    combined: dict[str, float] = {}
    for model, probs in per_model.items():
        for label, p in probs.items():
            combined[label] = combined.get(label, 0.0) + rule.weight(model) * p / total_w
    return combined


def classify(cand: Candidate, rule: VoteRule) -> tuple[str | None, float]:
    """The winning label and its combined probability; None when 'none' wins or nothing voted.
    Ties go to the label that comes first alphabetically, so results are deterministic."""
    dist = type_distribution(cand, rule)
    if not dist:
        return None, 0.0
    label = min(dist, key=lambda k: (-dist[k], k))
    if label == NONE or dist[label] < rule.classify_threshold:
        return None, dist.get(label, 0.0)
    return label, dist[label]


def support(cand: Candidate, n_models: int, rule: VoteRule) -> float:
    """Weighted share of the ensemble that extracted the span."""
    named = sum(rule.weights.values()) + max(n_models - len(rule.weights), 0)
    return sum(rule.weight(m) for m in cand.extracted_by) / named if named else 0.0


def raw_confidence(cand: Candidate, label: str, prob: float, n_models: int, rule: VoteRule) -> float:
    """The confidence before verification and calibration: a probability of `label` times the weighted share
    of the ensemble that extracted the span. The probability is `prob` (the type vote's, by the rule's type
    source), or with confidence_source "classify" the weighted mean of the members' stage-3 probabilities of
    `label` (`prob` when the candidate has none): with types from extraction, the vote's own probability is a
    share of votes that a lone member's right and wrong spans share alike, where stage 3's ranks them
    (docs/calibration.md)."""
    if rule.confidence_source == "classify" and cand.type_probs:
        prob = type_distribution(cand, replace(rule, type_source="classify")).get(label, 0.0)
    return prob * support(cand, n_models, rule)


def decide(
    candidates: list[Candidate], n_models: int, rule: VoteRule, lexicon: Sequence[LexiconMatch] = ()
) -> list[Candidate]:
    """Set label, confidence, accepted and reason on every candidate; resolve overlaps. `lexicon` holds what
    the pool knows of the sentence's words (lexicon.py): with the rule's `lexicon_filter`, a candidate whose
    words it leaves unlabelled is rejected; with its `lexicon`, after the vote, the pool's names that no
    accepted span overlaps are accepted, as candidates of their own when the models did not name them."""
    raw: dict[int, float] = {}  # the confidence before the calibration, which may flatten it into ties
    unlabelled = {(m.start, m.end): m for m in lexicon if m.label == NOT_A_NAME}
    for cand in candidates:
        cand.accepted, cand.reason = False, ""
        if len(cand.extracted_by) < rule.extract_min_votes:
            cand.reason = f"extracted by {len(cand.extracted_by)} of {n_models} models (need {rule.extract_min_votes})"
            continue
        plain = unlabelled.get((cand.start, cand.end))
        if plain is not None:
            cand.lexicon = NOT_A_NAME  # evidence the annotator shows, whether or not it decides
            if rule.lexicon_filter:
                cand.reason = f"your pool leaves these words unlabelled ({plain.share:.0%} of the times they occur)"
                continue
        label, prob = classify(cand, rule)
        cand.label = label
        if label is None:
            cand.confidence = 0.0
            cand.reason = "classified as not an entity"
            continue
        cand.confidence = raw_confidence(cand, label, prob, n_models, rule)
        yes = None
        if rule.verify and cand.verification:
            yes = sum(cand.verification.values()) / len(cand.verification)
            cand.confidence *= yes
        raw[id(cand)] = cand.confidence
        if rule.calibration is not None:
            cand.confidence = rule.calibration.apply(cand.confidence)
        if yes is not None and yes < rule.verify_threshold:
            cand.reason = f"failed verification (P(yes)={yes:.2f})"
            continue
        least = rule.label_thresholds.get(label)
        if least is not None and cand.confidence < least:
            shown = f"{cand.confidence:.2f}" if f"{cand.confidence:.2f}" != f"{least:.2f}" else f"{cand.confidence:.4f}"
            cand.reason = f"confidence {shown} under {label}'s threshold {least:.2f}"
            continue
        cand.accepted = True
    _resolve_overlaps(candidates, raw)
    if rule.lexicon and lexicon:
        _accept_pool_names(candidates, [m for m in lexicon if m.label != NOT_A_NAME], rule)
    return candidates


def _accept_pool_names(candidates: list[Candidate], matches: Sequence[LexiconMatch], rule: VoteRule) -> None:
    """Each match in turn (longest first) that overlaps no accepted span is accepted with the pool's label, its
    raw confidence the pool's share (calibrated and held to the label's threshold like a vote's)."""
    for match in matches:
        same = next((c for c in candidates if (c.start, c.end) == (match.start, match.end)), None)
        if same is not None:
            same.lexicon = match.label  # evidence the annotator shows, whether or not it decides
        if any(c.accepted and match.start < c.end and c.start < match.end for c in candidates):
            continue
        cand = same or Candidate(match.start, match.end, match.text, lexicon=match.label)
        if same is None:
            candidates.append(cand)
        cand.label = match.label
        cand.confidence = rule.calibration.apply(match.share) if rule.calibration is not None else match.share
        least = rule.label_thresholds.get(match.label)
        if least is not None and cand.confidence < least:
            cand.reason = f"a name the pool knows, but confidence {cand.confidence:.2f} under {match.label}'s threshold"
            continue
        cand.accepted, cand.reason = True, ""
    candidates.sort(key=lambda c: (c.start, c.end))


def _resolve_overlaps(candidates: list[Candidate], raw: dict[int, float]) -> None:
    """The more confident of two overlapping spans stays. The calibration never reorders confidences but
    may tie them; the raw confidence breaks those ties, so it does not change which span stays."""
    kept: list[Candidate] = []
    accepted = (c for c in candidates if c.accepted)
    for cand in sorted(accepted, key=lambda c: (-c.confidence, -raw[id(c)], c.start - c.end, c.start)):
        clash = next((k for k in kept if cand.start < k.end and k.start < cand.end), None)
        if clash:
            cand.accepted = False
            cand.reason = f"overlaps '{clash.text}' ({clash.label}), which is more confident"
        else:
            kept.append(cand)
