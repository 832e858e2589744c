"""`el4ner-local index tune` (issue 14, the pool chooses the rule): a held-out slice of the pool tagged with
the rest of it as demonstrations, the choice kept in INDEX/tuning.json, and Tagger.load applying it only to
the profile, models, settings and pool it was measured with.

Real embedder and real indexes on disk; scripted stand-in models, except in the one `models` test."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys

import pytest
from corpora import labelled
from typer.testing import CliRunner

from el4ner_local.cli import app
from el4ner_local.config import load_config, models_file
from el4ner_local.errors import UserError
from el4ner_local.evaluation.index_tune import summary, tune_index
from el4ner_local.llm.backend import TokenStats
from el4ner_local.pipeline.tagger import Tagger
from el4ner_local.pipeline.tuned import read_tunings, tuning_path, write_tuning
from el4ner_local.retrieval import DemoIndex
from el4ner_local.tagging.resume import settings_of

POOL = [
    labelled("Yesterday Ada Lovelace visited London .", ("Ada Lovelace", "person"), ("London", "location")),
    labelled("Today Alan Turing walked around Manchester .", ("Alan Turing", "person"), ("Manchester", "location")),
    labelled(
        "Sadly Marie Curie left Warsaw for Paris .",
        ("Marie Curie", "person"),
        ("Warsaw", "location"),
        ("Paris", "location"),
    ),
    labelled("Maybe Grace Hopper lived in Arlington .", ("Grace Hopper", "person"), ("Arlington", "location")),
    labelled("Later Niels Bohr taught in Copenhagen .", ("Niels Bohr", "person"), ("Copenhagen", "location")),
    labelled(
        "Honestly the weather is nice today .",
    ),
    labelled("Finally Emmy Noether arrived in Princeton .", ("Emmy Noether", "person"), ("Princeton", "location")),
    labelled(
        "Once Rosalind Franklin worked in Cambridge .", ("Rosalind Franklin", "person"), ("Cambridge", "location")
    ),
    labelled("Still Carl Sagan loved Ithaca .", ("Carl Sagan", "person"), ("Ithaca", "location")),
    labelled("Then Lise Meitner fled Berlin .", ("Lise Meitner", "person"), ("Berlin", "location")),
    labelled("Soon Enrico Fermi reached Chicago .", ("Enrico Fermi", "person"), ("Chicago", "location")),
    labelled(
        "Again Srinivasa Ramanujan sailed to England .", ("Srinivasa Ramanujan", "person"), ("England", "location")
    ),
    labelled("Perhaps Hedy Lamarr filmed in Vienna .", ("Hedy Lamarr", "person"), ("Vienna", "location")),
    labelled("Briefly Katherine Johnson spoke in Hampton .", ("Katherine Johnson", "person"), ("Hampton", "location")),
]
GOLD = {s.text: {s.text[sp.start : sp.end]: sp.label for sp in s.spans} for s in POOL}


class Scripted:
    """A stand-in model that knows the pool's gold entities. `noisy` also names the sentence's first word as
    a person (never right: every first word here is an adverb), so a vote of two beats the union, whatever
    the type source. Counts its calls; records the sentences it was shown as demonstrations."""

    def __init__(self, name: str, noisy: bool = False):
        self.name, self.noisy = name, noisy
        self.identity = f"scripted:{name}:{noisy}"
        self.stats = TokenStats()
        self.shown: set[str] = set()

    def render(self, prompt) -> str:
        return prompt.system + prompt.shared + prompt.question

    def _sentence(self, prompt) -> str:
        parts = prompt.shared.split("Sentence: ")
        self.shown |= {p.split("\n")[0].strip() for p in parts[1:-1]}
        return parts[-1].split("\n")[0].strip()

    def generate(self, prompt, *, prefill="", **more) -> str:
        self.stats.calls += 1
        sentence = self._sentence(prompt)
        lines = [f"{text} | {label}" for text, label in GOLD.get(sentence, {}).items()]
        if self.noisy:
            lines.append(f"{sentence.split()[0]} | person")
        return "\n".join(lines) or "none"

    def score(self, prompt, continuations, prefill=""):
        self.stats.calls += 1
        span = prefill.split("\n")[-1].rsplit(" |", 1)[0]
        # stage 3 rarely says "none" (docs/results.md): an unknown span is a person to both
        label = "person" if self.noisy else GOLD.get(self._sentence(prompt), {}).get(span, "person")
        return [0.0 if c.strip() == label else -3.0 for c in continuations]


def ensemble() -> list[Scripted]:
    return [Scripted("good"), Scripted("noisy", noisy=True)]


def calls(llms) -> int:
    return sum(m.stats.calls for m in llms)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return DemoIndex.build(POOL, tmp_path_factory.mktemp("built") / "index").path


@pytest.fixture
def index(built, tmp_path):
    """A copy of the built index of the test's own."""
    target = tmp_path / "index"
    shutil.copytree(built, target)
    return target


# -- the held-out slice is never its own demonstration ------------------------------------------------------


def test_a_held_out_sentence_is_never_retrieved_and_the_rest_rank_as_in_a_pool_without_it(index, tmp_path):
    idx = DemoIndex.load(index)
    held = [0, 3, 6, 9]
    view = idx.without(held)
    texts = {POOL[i].text for i in held}
    rest = DemoIndex.build([s for i, s in enumerate(POOL) if i not in held], tmp_path / "rest")
    for i in held:
        query, spans = POOL[i].text, list(GOLD[POOL[i].text])
        assert idx.retrieve(query, spans, k=1)[0].text == query  # the whole pool retrieves it for itself
        for mode in ("span", "sentence", "random"):
            got = [s.text for s in view.retrieve(query, spans, k=len(POOL), mode=mode)]
            assert not texts & set(got) and len(got) == len(POOL) - len(held)
            assert got == [s.text for s in idx.retrieve(query, spans, k=len(POOL), mode=mode, exclude=held)]
        for mode in ("span", "sentence"):
            assert [s.text for s in view.retrieve(query, spans, k=3, mode=mode)] == [
                s.text for s in rest.retrieve(query, spans, k=3, mode=mode)
            ]
    with pytest.raises(ValueError):
        view.add([POOL[0]])


def test_a_sentence_of_the_same_text_as_a_held_out_one_is_kept_out_too(tmp_path):
    twin = labelled("Yesterday Ada Lovelace visited London .", ("London", "location"))
    idx = DemoIndex.build([*POOL[:6], twin], tmp_path / "twins")
    got = [s.text for s in idx.without([0]).retrieve(twin.text, ["Ada Lovelace"], k=7)]
    assert twin.text not in got and len(got) == 5


# -- tune ---------------------------------------------------------------------------------------------------


def test_tune_keeps_a_private_choice_and_reruns_without_a_model_call(index):
    llms = ensemble()
    said: list[str] = []
    entry = tune_index(index, held_out=6, llms=llms, progress=said.append)
    assert calls(llms) > 0
    held = {POOL[i].text for i in range(len(POOL))} - (llms[0].shown | llms[1].shown)
    records = [json.loads(line) for line in (index / entry["records"]).read_text().splitlines()]
    assert len(records) == 6
    for record in records:  # no held-out sentence among any sentence's demonstrations
        assert not {r["text"] for r in records} & set(record["record"]["demonstrations"])
    assert {r["text"] for r in records} <= held
    assert said[-1] == "tune: 6/6 sentences" and any("tune: 1/6" in s for s in said)

    path = tuning_path(index)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((index / "tuning").stat().st_mode) == 0o700
    assert stat.S_IMODE((index / entry["records"]).stat().st_mode) == 0o600
    kept = read_tunings(index)["accurate"]
    assert kept["tuning"] == entry["tuning"] and kept["held_out"]["sentences"] == 6
    report = entry["tuning"]["report"]
    assert report["chosen"]["extract_min_votes"] == 2 and report["f1"] >= report["base"]["f1"]  # the default: 2 votes
    assert report["members_alone"]["good"] == 1.0

    again_llms = ensemble()
    said.clear()
    again = tune_index(index, held_out=6, llms=again_llms, progress=said.append)
    assert calls(again_llms) == 0 and again["tuning"] == entry["tuning"]
    assert "(6 already recorded)" in said[0] and all("recorded before" in s for s in said[1:])

    fast = tune_index(index, profile="fast", held_out=6, llms=ensemble())
    assert set(read_tunings(index)) == {"accurate", "fast"}  # another profile's entry is kept
    assert read_tunings(index)["accurate"]["tuning"] == entry["tuning"] and fast["held_out"]["seed"] == 0
    lean = fast["tuning"]["report"]  # the fast profile's union takes the noisy member's made-up spans
    assert lean["chosen"]["extract_min_votes"] == 2 and lean["f1"] > lean["base"]["f1"]
    lines = summary(entry, "accurate")
    assert any(line.split()[:2] == ["good", "alone"] for line in lines)
    assert any(line.lstrip().startswith("chosen") and "2 votes" in line for line in lines)


def test_the_summary_names_the_confidence_and_its_fit():
    calibration = {"points": [[0.0, 0.1], [1.0, 0.8]], "ece_before": 0.3, "ece_after": 0.05}
    chosen = {"confidence_source": "classify", "fit": "logistic"}
    entry = {"tuning": {"rule": {}, "report": {"calibration": {**calibration, "confidence": {"chosen": chosen}}}}}
    (line,) = [line for line in summary(entry, "accurate") if line.lstrip().startswith("calibration")]
    assert line.endswith("ECE 0.300 -> 0.050; confidence from classify, logistic fit")
    entry["tuning"]["report"]["calibration"] = calibration  # a tuning from before the choice: as it was
    (line,) = [line for line in summary(entry, "accurate") if line.lstrip().startswith("calibration")]
    assert line.endswith("ECE 0.300 -> 0.050")


def test_the_index_stays_whole_and_can_be_rebuilt_over_with_its_tuning(index):
    tune_index(index, held_out=4, llms=ensemble())
    manifest = (index / "manifest.json").read_bytes()
    assert DemoIndex.load(index).manifest["counts"]["sentences"] == len(POOL)
    result = CliRunner().invoke(app, ["index", "info", str(index)])
    assert result.exit_code == 0, result.output
    assert "tuning     accurate: F1" in result.output and "pool changed" not in result.output
    assert (index / "manifest.json").read_bytes() == manifest
    DemoIndex.build(POOL, index)  # the tuning's files are the index's own: not refused as someone else's


# -- applying it --------------------------------------------------------------------------------------------


def test_the_tagger_takes_the_tuned_rule_only_where_it_was_measured(index):
    tune_index(index, held_out=6, llms=ensemble())
    profile = load_config(None).pipeline
    tagger = Tagger.load(index=index, llms=ensemble())
    assert tagger.tuning is not None and tagger.settings.extract_min_votes == 2
    assert tagger.stages.rule.extract_min_votes == 2 and tagger.settings.k == profile.k
    note = tagger.tuning_note()  # what tag and annotate tell the user
    assert note is not None and "as tuned on 6 held-out pool sentences" in note and "2 vote(s)" in note
    assert Tagger.load(index=index, llms=ensemble(), extract_min_votes=1).settings.extract_min_votes == 1  # wins

    # a hand-set tuning: every tuned setting is taken
    entry = read_tunings(index)["accurate"]
    entry["tuning"]["rule"].update(
        type_source="both", calibration=[[0.0, 0.1], [1.0, 0.9]], label_thresholds={"person": 0.6}
    )
    write_tuning(index, "accurate", entry)
    rule = Tagger.load(index=index, llms=ensemble()).stages.rule
    assert rule.type_source == "both" and rule.label_thresholds == {"person": 0.6}
    assert rule.calibration is not None and rule.calibration.apply(0.5) == pytest.approx(0.5)

    for other in (
        Tagger.load(index=index, llms=[Scripted("good"), Scripted("other", noisy=True)]),  # other models
        Tagger.load(index=index, llms=ensemble(), k=profile.k + 1),  # other demonstrations asked
        Tagger.load(index=index, llms=ensemble(), labels=["person"]),  # another schema
        Tagger.load(index=index, llms=ensemble(), profile="fast"),  # a profile not tuned
        Tagger.load(index=index, llms=ensemble(), retrieval_mode="sentence"),
    ):
        assert other.tuning is None and other.stages.rule.extract_min_votes == other.settings.extract_min_votes
        assert other.tuning_note() is None
        assert other.stages.rule.label_thresholds == {}

    DemoIndex.load(index).add([labelled("Now Ada Lovelace sees Rome .", ("Rome", "location"))])
    stale = Tagger.load(index=index, llms=ensemble())  # the pool changed: no longer the tuned one
    assert stale.tuning is None and stale.settings == profile
    assert "pool changed since" in CliRunner().invoke(app, ["index", "info", str(index)]).output


def test_a_changed_tuning_is_a_changed_setting_for_tag_resume(index):
    def kept():
        return settings_of(
            models=models_file(None), labels=None, schema=None, index=str(index), only=None, overrides={}
        )

    untuned = kept()
    tune_index(index, held_out=4, llms=ensemble())
    tuned = kept()
    assert tuned["--index"] != untuned["--index"] and tuned["--index"].startswith(untuned["--index"])
    entry = read_tunings(index)["accurate"]
    entry["tuning"]["rule"]["extract_min_votes"] = 1
    write_tuning(index, "accurate", entry)
    assert kept()["--index"] != tuned["--index"]
    write_tuning(index, "other", entry)  # another profile's tuning changes nothing for this one
    assert (
        settings_of(
            models=models_file(None), labels=None, schema=None, index=str(index), only=None, overrides={}, profile="x"
        )["--index"]
        == untuned["--index"]
    )


# -- the command --------------------------------------------------------------------------------------------


def test_the_command_tunes_with_progress_and_a_summary(index, monkeypatch):
    scripted = {"qwen2.5-coder-0.5b": Scripted("qwen2.5-coder-0.5b"), "smollm2-135m": Scripted("smollm2-135m", True)}
    monkeypatch.setattr("el4ner_local.llm.load_model", lambda spec: scripted.get(spec.name, Scripted(spec.name)))
    result = CliRunner().invoke(app, ["index", "tune", str(index), "--held-out", "5", "--seed", "3"])
    assert result.exit_code == 0, (result.output, result.exception)
    out = result.stdout
    assert "tune: 5/5 sentences" in result.stderr
    assert "smollm2-135m alone" in out and "untuned" in out and "cross-fitted F1" in out and "thresholds" in out
    assert f"{index / 'tuning.json'}: kept for profile accurate" in out
    assert read_tunings(index)["accurate"]["held_out"] == {
        "requested": 5,
        "sentences": 5,
        "seed": 3,
        "sha256": read_tunings(index)["accurate"]["held_out"]["sha256"],
    }


def test_a_bad_index_or_held_out_is_one_line_and_exit_status_2(index, tmp_path):
    runner = CliRunner()
    for bad in (tmp_path / "nope", index / "pool.jsonl"):
        result = runner.invoke(app, ["index", "tune", str(bad)])
        assert isinstance(result.exception, UserError) and result.exception.exit_code == 2
        assert str(bad) in str(result.exception) and "\n" not in str(result.exception)
    big = runner.invoke(app, ["index", "tune", str(index), "--held-out", str(len(POOL))])
    assert isinstance(big.exception, UserError) and "at most half" in str(big.exception)
    DemoIndex.build(POOL[:1], tmp_path / "one")
    one = runner.invoke(app, ["index", "tune", str(tmp_path / "one")])  # the default held-out size of 1: none
    assert isinstance(one.exception, UserError) and "a pool of 1 sentence(s) cannot be tuned" in str(one.exception)
    proc = subprocess.run(
        [sys.executable, "-m", "el4ner_local.cli", "index", "tune", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("el4ner-local: error:") and "no such index directory" in proc.stderr


def test_index_info_on_a_tuning_of_another_shape_is_one_line(index):
    tuning_path(index).write_text(
        json.dumps({"format": "el4ner-local index tuning", "version": 1, "profiles": {"accurate": {"tuning": []}}})
    )
    result = CliRunner().invoke(app, ["index", "info", str(index)])
    assert isinstance(result.exception, UserError) and result.exception.exit_code == 2
    assert "'accurate'" in str(result.exception) and "\n" not in str(result.exception)


@pytest.mark.models
def test_tune_a_tiny_index_with_a_real_model(default_models, tmp_path):
    """One small real model (a profile of the models file), 12 pool sentences, 4 held out, end to end."""
    models = tmp_path / "models.toml"
    text = models_file(None).read_text(encoding="utf-8")
    models.write_text(text + '\n[profiles.tiny]\nmodels = ["smollm2-135m"]\nextract_min_votes = 1\n', encoding="utf-8")
    index = DemoIndex.build(POOL[:12], tmp_path / "index").path
    args = ["index", "tune", str(index), "--models", str(models), "--profile", "tiny", "--held-out", "4"]
    first = CliRunner().invoke(app, [*args, "--threads", "2"])
    assert first.exit_code == 0, (first.output, first.exception)
    entry = read_tunings(index)["tiny"]
    assert [m["name"] for m in entry["models"]] == ["smollm2-135m"] and entry["tuning"]["report"]["sentences"] == 4
    again = CliRunner().invoke(app, args)  # every sentence from the records
    assert again.exit_code == 0 and "(4 already recorded)" in again.stderr
    assert read_tunings(index)["tiny"]["tuning"] == entry["tuning"]
    tagger = Tagger.load(models=models, profile="tiny", index=index)
    assert tagger.tuning is not None and tagger.tuning["tuning"] == entry["tuning"]


def test_the_index_store_knows_the_tuning_files_as_its_own():
    from el4ner_local.pipeline import tuned
    from el4ner_local.retrieval import store

    # store.py lets a rebuild over a tuned index through because it counts these as the index's files
    assert set(store.TUNING) == {tuned.TUNING_FILE, tuned.TUNING_TMP, tuned.TUNING_DIR}
