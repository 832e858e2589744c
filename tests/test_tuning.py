"""The pool chooses the rule: hand-made records (shaped like records.run_records' entries) and gold
sentences; no model runs."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from el4ner_local.documents import LabelledSentence, Span, tokenize
from el4ner_local.evaluation.records import sentence_id
from el4ner_local.evaluation.scoring import with_lexicon
from el4ner_local.evaluation.tuning import Tuning, choose, decided
from el4ner_local.pipeline.calibration import Calibration
from el4ner_local.pipeline.lexicon import Lexicon
from el4ner_local.pipeline.records import Candidate, SentenceRecord
from el4ner_local.pipeline.votes import VoteRule

UNION = VoteRule(extract_min_votes=1, type_source="extract", verify=False)


def labelled(text: str, entities: list[tuple[str, str]]) -> LabelledSentence:
    spans = []
    for surface, label in entities:
        start = text.index(surface)
        spans.append(Span(start, start + len(surface), label))
    return LabelledSentence(text, tokenize(text), spans)


def entry(sent: LabelledSentence, found: dict[str, dict[str, str]], members: list[str]) -> dict:
    """found: surface -> {model: the type it wrote}; recorded in the typed settings (no verification)."""
    cands = []
    for surface, by in found.items():
        start = sent.text.index(surface)
        cands.append(Candidate(start, start + len(surface), surface, list(by), dict(by)))
    record = SentenceRecord(0, len(sent.text), raw={"extraction": {m: "" for m in members}}, candidates=cands)
    return {
        "id": sentence_id(sent.text),
        "text": sent.text,
        "record": record.to_json(),
        "verified_labels": [None] * len(cands),
        "seconds": 1.0,
        "stats": {},
        "peak_rss_mb": 1.0,
    }


NAMES = ["Ada", "Bob", "Cleo", "Dan", "Eve", "Finn", "Gus", "Hal"]
TOWNS = ["Paris", "Oslo", "Rome", "Lima", "Kyiv", "Bern", "Riga", "Baku"]


def noisy_sample(n: int = 8):
    """Members a and b find each sentence's person and town; c finds them too and also a junk 'person'."""
    members = ["a", "b", "c"]
    entries, gold = [], []
    for name, town in zip(NAMES[:n], TOWNS[:n], strict=True):
        sent = labelled(f"{name} flew to {town} yesterday .", [(name, "person"), (town, "location")])
        found = {
            name: {"a": "person", "b": "person", "c": "person"},
            town: {"a": "location", "b": "location", "c": "location"},
            "yesterday": {"c": "person"},
        }
        entries.append(entry(sent, found, members))
        gold.append(sent)
    return entries, gold, members


def test_a_member_whose_lone_votes_are_junk_makes_the_pool_ask_for_two_votes():
    entries, gold, members = noisy_sample()
    tuning = choose(entries, gold, members, UNION)
    assert tuning.rule.extract_min_votes == 2  # 2 is nearer the base (1) than 3, which scores the same
    assert tuning.rule.type_source == "extract" and not tuning.rule.verify
    report = tuning.report
    assert report["base"]["f1"] == pytest.approx(2 * 16 / (24 + 16))  # 16 right of 24 accepted, 16 gold
    assert report["chosen"]["f1"] == 1.0 and report["f1"] == 1.0
    assert report["members_alone"] == {"a": 1.0, "b": 1.0, "c": pytest.approx(0.8)}
    assert report["sentences"] == 8 and report["gold_entities"] == 16
    # records without stage-3 types rescore the extraction types only
    assert {g["type_source"] for g in report["grid"]} == {"extract"}
    assert [(g["extract_min_votes"], g["weights"]) for g in report["grid"]][:2] == [(1, "uniform"), (1, "f1")]
    assert report["cross_fitted"]["folds"] == 2 and report["cross_fitted"]["f1"] == 1.0
    assert report["cross_fitted"]["counts"] == {"tp": 16, "pred": 16, "gold": 16}  # both held-out halves


def test_zero_shot_votes_count_only_where_the_pipeline_counts_them():
    """c's junk came from its zero-shot (stage-1) answers only: a pipeline with zero_shot_votes = false never
    sees it, so its union is already right and the pool keeps one vote."""
    entries, gold, members = noisy_sample()
    for e in entries:
        e["record"]["candidates"][2]["zero_shot_only"] = ["c"]
    counted = choose(entries, gold, members, UNION)
    assert counted.rule.extract_min_votes == 2 and counted.report["base"]["f1"] < 1.0
    uncounted = choose(entries, gold, members, UNION, zero_shot=False)
    assert uncounted.rule.extract_min_votes == 1 and uncounted.report["base"]["f1"] == 1.0
    assert len(entries[0]["record"]["candidates"]) == 3  # the records themselves are left as they were


def test_ties_keep_the_rule_nearest_the_base():
    entries, gold, members = noisy_sample()
    for e in entries:  # without the junk, every rule scores the same
        e["record"]["candidates"] = e["record"]["candidates"][:2]
        e["verified_labels"] = [None, None]
    base = VoteRule(extract_min_votes=3, type_source="extract", weights={"a": 0.5})
    tuning = choose(entries, gold, members, base)
    assert tuning.rule.extract_min_votes == 3 and tuning.rule.weights == {"a": 0.5}
    assert tuning.report["chosen"]["weights"] == "base" and tuning.report["grid"][0]["weights"] == "base"


def lexicon_sample(pool_knows: dict[tuple[str, ...], tuple[str, float]]):
    """The members find each sentence's person only (and c its junk); the entries carry the matches of a
    lexicon of `pool_knows` (scoring.with_lexicon), as `index tune` gives them."""
    entries, gold, members = noisy_sample()
    for e in entries:
        e["record"]["candidates"] = [e["record"]["candidates"][0], e["record"]["candidates"][2]]
        e["verified_labels"] = [None, None]
    return with_lexicon(entries, gold, Lexicon(pool_knows)), gold, members


def test_the_pool_turns_its_names_on_where_they_find_what_the_models_missed():
    entries, gold, members = lexicon_sample({(town,): ("location", 1.0) for town in TOWNS})
    tuning = choose(entries, gold, members, replace(UNION, lexicon=False, lexicon_filter=False))
    assert tuning.rule.lexicon and tuning.rule.extract_min_votes == 2 and tuning.report["f1"] == 1.0
    assert not tuning.rule.lexicon_filter  # the base's (this pool says nothing of unlabelled words)
    assert tuning.report["chosen"]["lexicon"] is True
    assert {(g["lexicon"], g["lexicon_filter"]) for g in tuning.report["grid"]} == {
        (False, False),
        (False, True),
        (True, False),
        (True, True),
    }
    assert tuning.report["members_alone"]["a"] == 1.0  # the same names help each member alone


def test_the_pool_turns_its_names_off_where_they_are_wrong():
    entries, gold, members = lexicon_sample(
        {("yesterday",): ("person", 0.6), **{(t,): ("location", 1.0) for t in TOWNS[:1]}}
    )
    tuning = choose(entries, gold, members, replace(UNION, lexicon=True))
    assert not tuning.rule.lexicon and tuning.rule.extract_min_votes == 2


def test_the_pool_rejects_the_words_it_leaves_unlabelled_where_that_pays():
    """c's junk "yesterday" is named by a and b too; the pool leaves "yesterday" unlabelled: rejecting it
    is right at one vote, which then also keeps every town only c finds."""
    entries, gold, members = noisy_sample()
    for e in entries:
        junk = e["record"]["candidates"][2]
        junk["extracted_by"], junk["extracted_types"] = ["a", "b", "c"], {m: "person" for m in "abc"}
        town = e["record"]["candidates"][1]
        town["extracted_by"], town["extracted_types"] = ["c"], {"c": "location"}
    lexicon = Lexicon({}, [("yesterday", "it", "rained"), ("so", "yesterday")])  # seen twice, never labelled
    tuning = choose(with_lexicon(entries, gold, lexicon), gold, members, replace(UNION, lexicon_filter=False))
    assert tuning.rule.lexicon_filter and tuning.rule.extract_min_votes == 1 and tuning.report["f1"] == 1.0
    assert tuning.report["chosen"]["lexicon_filter"] is True


def test_every_vote_count_up_to_the_members_is_tried():
    """Junk that three of four members name: only a vote of all four keeps it out."""
    entries, gold, members = noisy_sample()
    for e in entries:
        for cand in e["record"]["candidates"]:
            cand["extracted_by"] = ["a", "b", "c", "d"] if cand["text"] != "yesterday" else ["b", "c", "d"]
            cand["extracted_types"] = {m: cand["extracted_types"].get("a", "person") for m in cand["extracted_by"]}
    members = [*members, "d"]
    tuning = choose(entries, gold, members, UNION)
    assert {g["extract_min_votes"] for g in tuning.report["grid"]} == {1, 2, 3, 4}
    assert tuning.rule.extract_min_votes == 4 and tuning.report["f1"] == 1.0


def test_decided_pairs_each_accepted_span_with_whether_it_is_a_gold_span():
    entries, gold, members = noisy_sample(2)
    pairs = decided(entries, gold, UNION, members)
    assert sorted(pairs) == [(1 / 3, False), (1 / 3, False), (1.0, True), (1.0, True), (1.0, True), (1.0, True)]


def over_confident_sample():
    """Every span is found by both members (raw confidence 1.0): the person is always right, the
    'location' is right in one sentence of six."""
    members = ["a", "b"]
    entries, gold = [], []
    for i, (name, town) in enumerate(zip(NAMES[:6], TOWNS[:6], strict=True)):
        sent = labelled(f"{name} met us near {town} .", [(name, "person")] + ([(town, "location")] if i == 0 else []))
        found = {name: {"a": "person", "b": "person"}, "near": {"a": "location", "b": "location"}}
        if i == 0:
            found = {name: found[name], town: {"a": "location", "b": "location"}}
        entries.append(entry(sent, found, members))
        gold.append(sent)
    return entries, gold, members


def test_calibration_and_a_threshold_drop_the_label_whose_spans_are_mostly_wrong():
    entries, gold, members = over_confident_sample()
    tuning = choose(entries, gold, members, UNION)
    report = tuning.report
    calibration = report["calibration"]
    assert calibration["samples"] == 12 and calibration["points"] == [[1.0, round(7 / 12, 4)]]
    assert calibration["ece_before"] == pytest.approx(5 / 12, abs=1e-4) and calibration["ece_after"] == 0.0
    assert tuning.rule.calibration == Calibration(((1.0, round(7 / 12, 4)),))
    # location's spans (1 right of 6) go; person's (6 of 6) stay: the same confidence, told apart by label
    assert tuning.rule.label_thresholds == {"location": 0.6}
    assert report["thresholds"]["kept"] == {"location": 0.6}
    assert report["thresholds"]["tried"]["person"]["gain"] < 0.005
    assert report["f1"] == pytest.approx(2 * 6 / (6 + 7), abs=1e-4) and report["f1"] > report["chosen"]["f1"]
    assert "cross_fitted" in report and set(report["cross_fitted"]) >= {"f1", "ece_before", "ece_after"}


def test_tuning_round_trips_through_json():
    entries, gold, members = over_confident_sample()
    tuning = choose(entries, gold, members, UNION)
    again = Tuning.from_dict(json.loads(json.dumps(tuning.to_dict())))
    assert again == tuning
    assert again.rule.calibration is not None and again.rule.label_thresholds == {"location": 0.6}


def test_small_samples_skip_cross_fitting_and_calibration():
    entries, gold, members = noisy_sample(2)
    report = choose(entries, gold, members, UNION).report
    assert report["cross_fitted"] == {"skipped": "2 sentences (cross-fitting needs 4)"}
    assert report["calibration"]["points"] is None and "needs 10" in report["calibration"]["why_none"]


# -- the confidence: where its type probability comes from, and its calibration fit ----------------------


def typed_entry(sent: LabelledSentence, found: dict[str, tuple[dict[str, str], float]], members: list[str]) -> dict:
    """found: surface -> ({model: the type it wrote}, every member's stage-3 P of that type); the rest of
    stage 3's probability split between "none" and another label (so that type still wins from 0.4 up)."""
    data = entry(sent, {surface: by for surface, (by, _) in found.items()}, members)
    for cand, (by, p) in zip(data["record"]["candidates"], found.values(), strict=True):
        label = next(iter(by.values()))
        other = "misc" if label != "misc" else "person"
        cand["type_probs"] = {m: {label: p, other: (1 - p) / 2, "none": (1 - p) / 2} for m in members}
    return data


def lone_finds_sample(n: int = 12):
    """Every town found by all three members (right); each name by member a alone, a person in every other
    sentence pair only. The vote scores every name alike (1/3); stage 3 is sure of the right ones only."""
    members = ["a", "b", "c"]
    entries, gold = [], []
    for i in range(n):
        name, town = NAMES[i % 8], TOWNS[(i + i // 8) % 8]
        right = i % 4 < 2  # both halves of the sample (every other sentence) hold right and wrong names
        sent = labelled(f"{name} flew to {town} on day {i} .", [(town, "location")] + ([(name, "person")] * right))
        found = {town: ({m: "location" for m in members}, 0.9), name: ({"a": "person"}, 0.9 if right else 0.4)}
        entries.append(typed_entry(sent, found, members))
        gold.append(sent)
    return entries, gold, members


def test_stage_3_confidence_is_chosen_where_it_tells_right_from_wrong():
    entries, gold, members = lone_finds_sample()
    tuning = choose(entries, gold, members, UNION)
    confidence = tuning.report["calibration"]["confidence"]
    assert tuning.rule.confidence_source == "classify" and confidence["chosen"]["confidence_source"] == "classify"
    tried = {(o["confidence_source"], o["fit"]): o for o in confidence["tried"]}
    assert set(tried) == {
        ("vote", "isotonic"),
        ("vote", "logistic"),
        ("classify", "isotonic"),
        ("classify", "logistic"),
    }
    assert (
        tried["classify", confidence["chosen"]["fit"]]["brier_held_out"] < tried["vote", "isotonic"]["brier_held_out"]
    )
    # the calibrated confidence now parts the lone names: a threshold drops the wrong ones
    assert tuning.rule.label_thresholds.get("person") is not None and tuning.report["f1"] == 1.0
    assert tuning.report["cross_fitted"]["brier_after"] < 0.05


def test_records_without_stage_3_answers_keep_the_vote_confidence():
    entries, gold, members = over_confident_sample()
    tried = choose(entries, gold, members, UNION).report["calibration"]["confidence"]["tried"]
    assert {o["confidence_source"] for o in tried} == {"vote"} and len(tried) == 2


def test_a_confidence_that_costs_f1_is_not_chosen():
    """Stage 3 prefers the wrong one of two overlapping spans: its confidence would keep "Ada", not "Ada Lee"."""
    members = ["a", "b", "c"]
    entries, gold = [], []
    for i in range(12):
        sent = labelled(f"{NAMES[i % 8]} Lee came on day {i} .", [(f"{NAMES[i % 8]} Lee", "person")])
        found = {
            f"{NAMES[i % 8]} Lee": ({m: "person" for m in members}, 0.2),
            NAMES[i % 8]: ({"a": "person"}, 0.95),
        }
        entries.append(typed_entry(sent, found, members))
        gold.append(sent)
    tuning = choose(entries, gold, members, UNION)
    tried = {(o["confidence_source"], o["fit"]): o for o in tuning.report["calibration"]["confidence"]["tried"]}
    assert tried["classify", "isotonic"]["f1"] < tried["vote", "isotonic"]["f1"]
    assert tuning.rule.confidence_source == "vote" and tuning.report["f1"] == 1.0
