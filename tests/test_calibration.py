"""Calibrated confidence: the isotonic map, its measures (ECE, reliability table), the vote applying it
and per-label thresholds, and their tables in models.toml (one-line errors naming the line)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from el4ner_local.config import DEFAULT_MODELS_FILE, PipelineSettings, load_config
from el4ner_local.errors import UserError
from el4ner_local.evaluation.cache import config_description
from el4ner_local.pipeline.calibration import (
    LOGISTIC_GRID,
    Calibration,
    expected_calibration_error,
    reliability_table,
)
from el4ner_local.pipeline.records import Candidate
from el4ner_local.pipeline.tagger import Tagger
from el4ner_local.pipeline.votes import VoteRule, decide
from el4ner_local.schema import Schema

# -- the map -----------------------------------------------------------------------------------------


def test_apply_interpolates_between_points_and_clips_beyond_them():
    cal = Calibration(((0.2, 0.1), (0.6, 0.5), (1.0, 0.9)))
    assert cal.apply(0.0) == 0.1 and cal.apply(0.2) == 0.1
    assert cal.apply(0.4) == pytest.approx(0.3)
    assert cal.apply(0.8) == pytest.approx(0.7)
    assert cal.apply(1.0) == 0.9
    assert Calibration().apply(0.37) == 0.37  # no points: the raw confidence


def test_fit_pools_violators_into_a_non_decreasing_map():
    raw = [0.1, 0.2, 0.3, 0.4, 0.5, 0.5]
    right = [False, True, False, True, True, False]
    cal = Calibration.fit(raw, right)
    # 0.2 (right) and 0.3 (wrong) violate the order: pooled to 0.5; the two at 0.5 pool first (0.5),
    # then with 0.4 (1.0) -> 2/3
    assert cal.points == ((0.1, 0.0), (0.2, 0.5), (0.3, 0.5), (0.4, 0.6667), (0.5, 0.6667))
    ys = [y for _, y in cal.points]
    assert ys == sorted(ys)


def test_fit_keeps_few_points_and_handles_degenerate_samples():
    raw = [0.3] * 50 + [0.9] * 50
    right = [i % 2 == 0 for i in range(50)] + [i % 4 != 0 for i in range(50)]
    cal = Calibration.fit(raw, right)
    assert cal.points == ((0.3, 0.5), (0.9, 0.74))
    assert Calibration.fit([], []) == Calibration()  # no samples: the identity
    assert Calibration.fit([0.8], [True]).points == ((0.8, 1.0),)
    with pytest.raises(ValueError):
        Calibration.fit([0.1, 0.2], [True])


def test_fit_pools_confidences_equal_up_to_float_noise():
    cal = Calibration.fit([0.1 + 0.2, 0.3, 0.9], [True, False, True])
    assert cal.points == ((0.3, 0.5), (0.9, 1.0))  # not a wrong block at 0.3 and a right one at 0.30000000000000004


def test_logistic_fit_is_a_smooth_non_decreasing_map_that_calibrates_a_sigmoid_truth():
    import math
    import random

    rng = random.Random(0)
    raw = [rng.random() for _ in range(2000)]
    truth = lambda x: 1 / (1 + math.exp(-(-1.0 + 2.0 * math.log(x / (1 - x)))))  # noqa: E731
    right = [rng.random() < truth(x) for x in raw]
    cal = Calibration.fit_logistic(raw, right)
    ys = [y for _, y in cal.points]
    assert ys == sorted(ys) and len(cal.points) == len(LOGISTIC_GRID)  # the same few points, whatever the sample
    for x in (0.1, 0.3, 0.5, 0.7, 0.9):
        assert cal.apply(x) == pytest.approx(truth(x), abs=0.04)
    conf = [cal.apply(x) for x in raw]
    assert expected_calibration_error(conf, right) < 0.03 < expected_calibration_error(raw, right)


def test_logistic_fit_of_degenerate_samples_is_the_share_right():
    assert Calibration.fit_logistic([], []) == Calibration()
    assert Calibration.fit_logistic([0.2, 0.9], [True, True]).apply(0.1) == 1.0  # nothing to rank by
    assert Calibration.fit_logistic([0.2, 0.9], [False, False]).apply(0.95) == 0.0
    # a raw confidence that ranks the wrong way round: no slope, every span the share right (1 of 4)
    backwards = Calibration.fit_logistic([0.1, 0.4, 0.6, 0.9], [True, False, False, False])
    assert {y for _, y in backwards.points} == {0.25}
    # perfectly separated: finite (the penalty), steep, still a probability
    separated = Calibration.fit_logistic([0.1, 0.2, 0.8, 0.9], [False, False, True, True])
    assert 0.0 < separated.apply(0.1) < 0.2 and 0.8 < separated.apply(0.9) < 1.0
    with pytest.raises(ValueError):
        Calibration.fit_logistic([0.1, 0.2], [True])


def test_list_round_trip_sorts_the_points():
    cal = Calibration.from_list([[0.9, 0.8], [0.1, 0.05]])
    assert cal.points == ((0.1, 0.05), (0.9, 0.8))
    assert Calibration.from_list(cal.to_list()) == cal


def test_calibration_lowers_the_error_of_an_over_confident_vote():
    # spans said 0.9 sure are right 40% of the time, 0.5 sure: 20%, 1.0 sure: 70%
    raw = [0.9] * 50 + [0.5] * 50 + [1.0] * 50
    right = [i < 20 for i in range(50)] + [i < 10 for i in range(50)] + [i < 35 for i in range(50)]
    before = expected_calibration_error(raw, right)
    cal = Calibration.fit(raw, right)
    after = expected_calibration_error([cal.apply(x) for x in raw], right)
    assert before > 0.3 and after < 0.01
    assert before == pytest.approx((50 * 0.5 + 50 * 0.3 + 50 * 0.3) / 150)


def test_reliability_table_rows_and_ece_without_samples():
    rows = reliability_table([0.05, 0.15, 0.18, 1.0], [False, True, False, True], bins=10)
    assert len(rows) == 10 and rows[0] == {"lo": 0.0, "hi": 0.1, "n": 1, "mean_confidence": 0.05, "share_right": 0.0}
    assert rows[1]["n"] == 2 and rows[1]["mean_confidence"] == pytest.approx(0.165) and rows[1]["share_right"] == 0.5
    assert rows[9]["n"] == 1  # 1.0 falls in the last bin
    assert rows[5] == {"lo": 0.5, "hi": 0.6, "n": 0, "mean_confidence": None, "share_right": None}
    assert expected_calibration_error([], []) == 0.0


# -- the vote ------------------------------------------------------------------------------------------


def cand(start, end, text, by, label):
    return Candidate(start, end, text, extracted_by=list(by), extracted_types={m: label for m in by})


def test_decide_calibrates_the_confidence_then_applies_the_label_threshold():
    cal = Calibration(((0.0, 0.1), (1.0, 0.5)))
    rule = VoteRule(extract_min_votes=1, type_source="extract", calibration=cal, label_thresholds={"person": 0.3})
    paris, ada = cand(0, 5, "Paris", ["a"], "location"), cand(10, 13, "Ada", ["a", "b"], "person")
    lone = cand(20, 23, "Bob", ["a"], "person")
    decide([paris, ada, lone], 3, rule)
    assert paris.accepted and paris.confidence == pytest.approx(0.1 + 0.4 / 3)  # no threshold for location
    assert ada.accepted and ada.confidence == pytest.approx(0.1 + 0.4 * 2 / 3)
    assert not lone.accepted and lone.reason == "confidence 0.23 under person's threshold 0.30"


def test_a_threshold_rejection_leaves_the_overlapping_span_free():
    wide = cand(0, 9, "Ada Smith", ["a", "b"], "person")
    narrow = cand(0, 3, "Ada", ["c"], "location")
    decide([wide, narrow], 3, VoteRule(extract_min_votes=1, type_source="extract"))
    assert wide.accepted and not narrow.accepted and narrow.reason.startswith("overlaps")
    decide([wide, narrow], 3, VoteRule(extract_min_votes=1, type_source="extract", label_thresholds={"person": 0.9}))
    assert not wide.accepted and "under person's threshold 0.90" in wide.reason and narrow.accepted


def test_calibrated_ties_between_overlapping_spans_go_to_the_higher_raw_confidence():
    wide = cand(0, 9, "Ada Smith", ["c"], "person")  # raw 1/3; the longer span would win a tie
    narrow = cand(0, 3, "Ada", ["a", "b"], "person")  # raw 2/3
    decide(
        [wide, narrow],
        3,
        VoteRule(extract_min_votes=1, type_source="extract", calibration=Calibration(((0.0, 0.5), (1.0, 0.5)))),
    )
    assert wide.confidence == narrow.confidence == 0.5
    assert narrow.accepted and not wide.accepted and wide.reason.startswith("overlaps 'Ada'")


def test_rule_from_settings_and_json_round_trip():
    settings = PipelineSettings(calibration=((0.2, 0.1), (0.9, 0.8)), thresholds=(("person", 0.3),))
    rule = VoteRule.from_settings(settings)
    assert rule.calibration == Calibration(((0.2, 0.1), (0.9, 0.8))) and rule.label_thresholds == {"person": 0.3}
    assert VoteRule.from_settings(PipelineSettings()).calibration is None
    assert VoteRule.from_json(rule.to_json()) == rule
    assert VoteRule.from_json(VoteRule().to_json()) == VoteRule()


def test_vote_only_settings_stay_out_of_the_record_cache_key():
    class Stand:  # a model that is never asked anything
        def __init__(self, name: str) -> None:
            self.name, self.identity = name, f"stand:{name}"

    def description(settings):
        return config_description(Tagger([Stand("a")], Schema(("person",)), settings, index=None), "none")

    tuned = PipelineSettings(calibration=((0.0, 0.2), (1.0, 0.7)), thresholds=(("person", 0.5),))
    assert description(tuned) == description(PipelineSettings())
    assert description(PipelineSettings(k=3)) != description(PipelineSettings())  # the comparison can fail
    # the classify confidence asks stage 3 even of types from extraction: it is part of the key, as a change
    assert description(PipelineSettings(confidence_source="classify")) != description(PipelineSettings())


# -- models.toml ---------------------------------------------------------------------------------------

MODELS = """\
[[models]]
name = "a"
[models.source]
kind = "path"
path = "a.gguf"

[[models]]
name = "b"
[models.source]
kind = "path"
path = "b.gguf"

[pipeline]
k = 2
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(UserError) as info:
        load_config(write(tmp_path, text))
    message = str(info.value)
    assert "\n" not in message and "(fix: " in message
    return message


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_calibration_and_thresholds_tables_parse_and_a_profile_has_its_own(tmp_path):
    text = (
        MODELS
        + "\n[pipeline.calibration]\npoints = [[0.9, 0.8], [0.1, 0]]\n"
        + "\n[pipeline.thresholds]\nperson = 0.4\nlocation = 1\n"
        + '\n[profiles.one]\nmodels = ["a"]\n[profiles.one.thresholds]\nperson = 0.2\n'
        + "\n[profiles.two]\nk = 3\n"
    )
    config = load_config(write(tmp_path, text))
    assert config.pipeline.calibration == ((0.1, 0.0), (0.9, 0.8))
    assert config.pipeline.thresholds == (("location", 1.0), ("person", 0.4))
    one, two = config.profiles["one"].pipeline, config.profiles["two"].pipeline
    assert one.thresholds == (("person", 0.2),) and one.calibration == ()
    assert two.calibration == () and two.thresholds == ()  # measured for [pipeline]'s vote: not inherited


def test_the_shipped_calibration_is_monotone_and_no_label_has_a_threshold():
    """[pipeline.calibration] is fit on the default ensemble's dev records; labels differ by pool, so no
    per-label threshold ships. The fast profile's vote is another: it has no calibration."""
    config = load_config(DEFAULT_MODELS_FILE)
    assert config.pipeline.thresholds == ()
    calibration = VoteRule.from_settings(config.pipeline).calibration
    assert calibration is not None
    mapped = [calibration.apply(x / 100) for x in range(101)]
    assert mapped == sorted(mapped) and 0.0 <= mapped[0] and mapped[-1] <= 1.0
    assert load_config(DEFAULT_MODELS_FILE, "fast").pipeline.calibration == ()


@pytest.mark.parametrize(
    "table, words",
    [
        ("[pipeline.calibration]\npoints = [[0.5, 1.5]]\n", ["key 'calibration'", "numbers from 0 to 1"]),
        ("[pipeline.calibration]\npoints = [[0.5]]\n", ["key 'calibration'", "[raw, p] pairs"]),
        ("[pipeline.calibration]\npoints = [[0.5, 0.2], [0.5, 0.3]]\n", ["two points at raw confidence 0.5"]),
        ("[pipeline.calibration]\npoints = [[0.2, 0.6], [0.8, 0.3]]\n", ["P(right) falls from 0.6 to 0.3"]),
        ("[pipeline.calibration]\npoint = []\n", ["unknown key 'point' in [pipeline.calibration]"]),
        ("[pipeline.thresholds]\nperson = 1.5\n", ["key 'thresholds'", "number from 0 to 1", "person = 0.4"]),
        ('[pipeline.thresholds]\nperson = "high"\n', ["key 'thresholds'", "number from 0 to 1"]),
        ("[profiles.p]\n[profiles.p.thresholds]\nperson = -1\n", ["key 'thresholds'", "profile 'p'"]),
        ("[profiles.p]\n[profiles.p.calibration]\npoints = 3\n", ["key 'calibration'", "[profiles.p.calibration]"]),
    ],
)
def test_bad_values_name_the_file_the_table_and_the_fix(tmp_path, table, words):
    text = MODELS + "\n" + table
    message = error_of(tmp_path, text)
    header = table.splitlines()[-2] if table.startswith("[profiles") else table.splitlines()[0]
    assert re.match(rf"{re.escape(str(tmp_path / 'models.toml'))}:{line_of(text, header)}: ", message), message
    for word in words:
        assert word in message, message


def test_only_some_models_drops_the_calibration_fit_on_the_whole_ensemble():
    """The shipped calibration maps the vote of every default member; `--only` runs another vote."""
    from types import SimpleNamespace

    from el4ner_local import Tagger

    names = [m.name for m in load_config(DEFAULT_MODELS_FILE).models]
    every = Tagger.load(index=None, labels="person", llms=[SimpleNamespace(name=n) for n in names], only=names)
    assert every.stages.rule.calibration is not None
    one = Tagger.load(index=None, labels="person", llms=[SimpleNamespace(name=names[0])], only=names[:1])
    assert one.stages.rule.calibration is None and one.settings.calibration == ()
