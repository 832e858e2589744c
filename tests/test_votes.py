"""Vote arithmetic on hand-made records (no model runs: these test the rule, not the models)."""

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
    assert classify(c, VoteRule(type_source="classify"))[0] == "location"
    label, p = classify(c, VoteRule(type_source="classify", weights={"a": 5.0}))
    assert label == "person" and abs(p - (5 * 0.9 + 0.2 + 0.2) / 7) < 1e-9


def test_none_wins_rejects_and_out_of_schema_type_counts_as_none():
    c = cand(0, 3, "the", ["a"], types={"a": "none"}, probs={"b": {"person": 0.3, "none": 0.7}})
    dist = type_distribution(c, VoteRule(type_source="both"))
    assert dist["none"] > dist["person"]
    decide([c], 3, VoteRule(type_source="both"))
    assert not c.accepted and c.reason == "classified as not an entity"


def test_verification_drops_a_pair_below_threshold_and_scales_confidence():
    c = cand(0, 5, "Paris", ["a", "b"], types={"a": "location", "b": "location"}, verification={"a": 0.2, "b": 0.4})
    decide([c], 3, VoteRule(type_source="extract", verify=True, verify_threshold=0.5))
    assert not c.accepted and c.reason.startswith("failed verification")
    decide([c], 3, VoteRule(type_source="extract", verify=True, verify_threshold=0.25))
    assert c.accepted and abs(c.confidence - 0.3 * 2 / 3) < 1e-9
    decide([c], 3, VoteRule(type_source="extract", verify=False))
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
    decide([wide, narrow], 3, VoteRule(type_source="both"))
    assert narrow.accepted and not wide.accepted and "overlaps 'La Scala'" in wide.reason


def test_ties_are_broken_deterministically():
    c = cand(0, 4, "Nile", ["a", "b"], types={"a": "location", "b": "person"})
    assert classify(c, VoteRule(type_source="extract"))[0] == "location"


def test_overlaps_go_to_the_span_more_of_the_ensemble_extracted():
    full = cand(0, 13, "Angela Merkel", ["a"], types={"a": "person"})
    first = cand(0, 6, "Angela", ["b", "c"], types={"b": "person", "c": "person"})
    decide([full, first], 3, VoteRule(type_source="extract"))
    assert first.accepted and not full.accepted
    decide([full, first], 3, VoteRule(type_source="extract", weights={"a": 3.0}))
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


def test_the_rule_defaults_are_the_pipeline_defaults():
    from el4ner_local.config import PipelineSettings

    assert VoteRule() == VoteRule.from_settings(PipelineSettings())
    assert VoteRule.from_settings(PipelineSettings(type_source="both", verify=True)) == VoteRule(
        type_source="both", verify=True
    )
