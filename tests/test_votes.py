"""Vote arithmetic on hand-made records (no model runs: these test the rule, not the models)."""

from dataclasses import replace

import pytest

from el4ner_local.pipeline.records import Candidate
from el4ner_local.pipeline.votes import VoteRule, classify, decide, type_distribution

MODELS = ["a", "b", "c"]


def cand(start, end, text, extracted_by, types=None, probs=None, verification=None):
    return Candidate(
        start,
        end,
        text,
        extracted_by=list(extracted_by),
        extracted_types=types or {},
        type_probs=probs or {},
        verification=verification or {},
    )


def test_union_keeps_a_span_one_model_found_and_vote_rejects_it():
    c = cand(0, 5, "Paris", ["a"], types={"a": "location"})
    decide([c], 3, VoteRule(extract_min_votes=1, type_source="extract"))
    assert c.accepted and c.label == "location"
    decide([c], 3, VoteRule(extract_min_votes=2, type_source="extract"))
    assert not c.accepted and "extracted by 1 of 3" in c.reason


def test_soft_vote_weights_models():
    probs = {
        "a": {"person": 0.9, "location": 0.1, "none": 0.0},
        "b": {"person": 0.2, "location": 0.8, "none": 0.0},
        "c": {"person": 0.2, "location": 0.8, "none": 0.0},
    }
    c = cand(0, 4, "Jordan", ["a", "b"], probs=probs)
    assert classify(c, VoteRule(extract_min_votes=1, type_source="classify"))[0] == "location"
    label, p = classify(c, VoteRule(extract_min_votes=1, type_source="classify", weights={"a": 5.0}))
    assert label == "person" and abs(p - (5 * 0.9 + 0.2 + 0.2) / 7) < 1e-9


def test_none_wins_rejects_and_out_of_schema_type_counts_as_none():
    c = cand(0, 3, "the", ["a"], types={"a": "none"}, probs={"b": {"person": 0.3, "none": 0.7}})
    dist = type_distribution(c, VoteRule(extract_min_votes=1, type_source="both"))
    assert dist["none"] > dist["person"]
    decide([c], 3, VoteRule(extract_min_votes=1, type_source="both"))
    assert not c.accepted and c.reason == "classified as not an entity"


def test_verification_drops_a_pair_below_threshold_and_scales_confidence():
    c = cand(0, 5, "Paris", ["a", "b"], types={"a": "location", "b": "location"}, verification={"a": 0.2, "b": 0.4})
    decide([c], 3, VoteRule(extract_min_votes=1, type_source="extract", verify=True, verify_threshold=0.5))
    assert not c.accepted and c.reason.startswith("failed verification")
    decide([c], 3, VoteRule(extract_min_votes=1, type_source="extract", verify=True, verify_threshold=0.25))
    assert c.accepted and abs(c.confidence - 0.3 * 2 / 3) < 1e-9
    decide([c], 3, VoteRule(extract_min_votes=1, type_source="extract", verify=False))
    assert c.accepted and abs(c.confidence - 2 / 3) < 1e-9


def test_overlaps_keep_the_more_confident_span():
    wide = cand(0, 17, "La Scala in Milan", ["a"], types={"a": "location"}, probs={"a": {"location": 0.5, "none": 0.5}})
    narrow = cand(
        0,
        8,
        "La Scala",
        ["a", "b"],
        types={"a": "location", "b": "location"},
        probs={"a": {"location": 0.9, "none": 0.1}, "b": {"location": 0.9, "none": 0.1}},
    )
    decide([wide, narrow], 3, VoteRule(extract_min_votes=1, type_source="both"))
    assert narrow.accepted and not wide.accepted and "overlaps 'La Scala'" in wide.reason


def test_ties_are_broken_deterministically():
    c = cand(0, 4, "Nile", ["a", "b"], types={"a": "location", "b": "person"})
    assert classify(c, VoteRule(extract_min_votes=1, type_source="extract"))[0] == "location"


def test_overlaps_go_to_the_span_more_of_the_ensemble_extracted():
    full = cand(0, 13, "Angela Merkel", ["a"], types={"a": "person"})
    first = cand(0, 6, "Angela", ["b", "c"], types={"b": "person", "c": "person"})
    decide([full, first], 3, VoteRule(extract_min_votes=1, type_source="extract"))
    assert first.accepted and not full.accepted
    decide([full, first], 3, VoteRule(extract_min_votes=1, type_source="extract", weights={"a": 3.0}))
    assert full.accepted and not first.accepted and "overlaps 'Angela Merkel'" in first.reason


def test_a_tagger_of_some_models_weighs_only_their_votes():
    from types import SimpleNamespace

    from el4ner_local.config import PipelineSettings
    from el4ner_local.pipeline.tagger import Tagger
    from el4ner_local.schema import Schema

    settings = PipelineSettings(weights=(("a", 1.0), ("b", 0.5), ("c", 0.25)))
    tagger = Tagger([SimpleNamespace(name="a"), SimpleNamespace(name="c")], Schema(("person",)), settings)
    assert tagger.stages.rule.weights == {"a": 1.0, "c": 0.25}  # b is not in this ensemble
    assert VoteRule.from_settings(settings).weights == {"a": 1.0, "b": 0.5, "c": 0.25}


def test_a_tagger_of_fewer_models_than_the_votes_asked_needs_one_vote_each():
    """`--only one-model` (or a models file of one model) under the default vote of 2: the rule asks
    every member present, not votes nobody can give."""
    from types import SimpleNamespace

    from el4ner_local.config import PipelineSettings
    from el4ner_local.pipeline.tagger import Tagger
    from el4ner_local.schema import Schema

    settings = PipelineSettings(extract_min_votes=3)
    one = Tagger([SimpleNamespace(name="a")], Schema(("person",)), settings)
    assert one.stages.rule.extract_min_votes == 1
    two = Tagger([SimpleNamespace(name="a"), SimpleNamespace(name="b")], Schema(("person",)), settings)
    assert two.stages.rule.extract_min_votes == 2
    assert VoteRule.from_settings(settings, ["a", "b", "c", "d"]).extract_min_votes == 3
    assert VoteRule.from_settings(settings).extract_min_votes == 3


def test_the_rule_defaults_are_the_pipeline_defaults():
    from el4ner_local.config import PipelineSettings

    assert VoteRule() == VoteRule.from_settings(PipelineSettings())
    assert VoteRule.from_settings(PipelineSettings(type_source="both", verify=True)) == VoteRule(
        type_source="both", verify=True
    )


# -- confidence_source: where the confidence's type probability comes from ------------------------------

LONE = {"a": "person"}  # one member of three extracted the span, as a person


def test_classify_confidence_tells_apart_what_the_vote_scores_alike():
    """Two spans one member found: the extraction vote gives both 1 x 1/3; stage 3's members agree on one."""
    agreed = cand(0, 3, "Ada", ["a"], types=LONE, probs={m: {"person": 0.9, "none": 0.1} for m in MODELS})
    doubted = cand(10, 13, "Bob", ["a"], types=LONE, probs={m: {"person": 0.3, "none": 0.7} for m in MODELS})
    decide([agreed, doubted], 3, VoteRule(extract_min_votes=1, type_source="extract"))
    assert agreed.confidence == doubted.confidence == pytest.approx(1 / 3)
    decide([agreed, doubted], 3, VoteRule(extract_min_votes=1, type_source="extract", confidence_source="classify"))
    assert agreed.label == doubted.label == "person"  # the label is still the extraction vote's
    assert agreed.confidence == pytest.approx(0.9 / 3) and doubted.confidence == pytest.approx(0.3 / 3)


def test_classify_confidence_is_the_weighted_mean_of_stage_3_times_support():
    probs = {"a": {"person": 1.0}, "b": {"person": 0.5, "location": 0.5}, "c": {"location": 1.0}}
    c = cand(0, 3, "Ada", ["a", "b"], types={"a": "person", "b": "person"}, probs=probs)
    rule = VoteRule(
        extract_min_votes=1, type_source="extract", confidence_source="classify", weights={"a": 2.0, "c": 0.5}
    )
    decide([c], 3, rule)
    p_person = (2.0 * 1.0 + 1.0 * 0.5 + 0.5 * 0.0) / 3.5
    assert c.label == "person" and c.confidence == pytest.approx(p_person * (2.0 + 1.0) / 3.5)
    # verification still multiplies it in
    c.verification = {"a": 0.5}
    decide([c], 3, replace(rule, verify=True, verify_threshold=0.0))
    assert c.confidence == pytest.approx(p_person * 3.0 / 3.5 * 0.5)


def test_classify_confidence_without_stage_3_answers_is_the_vote_confidence():
    lean = cand(0, 3, "Ada", ["a", "b"], types={"a": "person", "b": "location"})  # a lean record: no type_probs
    decide([lean], 3, VoteRule(extract_min_votes=1, type_source="extract", confidence_source="classify"))
    assert lean.accepted and lean.confidence == pytest.approx(0.5 * 2 / 3)


def test_classify_confidence_decides_which_overlapping_span_stays():
    sure = {m: {"person": 0.95, "none": 0.05} for m in MODELS}
    unsure = {m: {"person": 0.2, "none": 0.8} for m in MODELS}
    wide = cand(0, 9, "Ada Smith", ["a"], types=LONE, probs=sure)
    narrow = cand(0, 3, "Ada", ["a"], types=LONE, probs=unsure)
    decide(
        [wide, narrow], 3, VoteRule(extract_min_votes=1, type_source="extract")
    )  # a tie (1/3 each): the longer span stays
    assert wide.accepted and not narrow.accepted
    wide.type_probs, narrow.type_probs = unsure, sure
    decide([wide, narrow], 3, VoteRule(extract_min_votes=1, type_source="extract", confidence_source="classify"))
    assert narrow.accepted and not wide.accepted and wide.reason.startswith("overlaps 'Ada'")


def test_confidence_source_round_trips_through_json_and_settings():
    from el4ner_local.config import PipelineSettings

    rule = VoteRule(confidence_source="classify", weights={"a": 0.5})
    assert rule.to_json()["confidence_source"] == "classify"
    assert VoteRule.from_json(rule.to_json()) == rule
    assert VoteRule.from_json({}).confidence_source == "vote"  # a tuning written before the setting existed
    assert VoteRule.from_settings(PipelineSettings(confidence_source="classify")).confidence_source == "classify"
