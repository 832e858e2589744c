"""Settings profiles of models.toml ([profiles.NAME], `--profile NAME`): parsed and validated as
[pipeline] is (every mistake one line naming the file, the line and the key), a profile's keys
override [pipeline]'s, and `tag -o OUT` refuses to resume OUT with another profile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli_models import ROOT, assert_one_line_error

from el4ner_local.config import DEFAULT_MODELS_FILE, DEFAULT_PROFILE, PipelineSettings, load_config
from el4ner_local.errors import UserError
from el4ner_local.pipeline.tagger import Tagger
from el4ner_local.tagging.resume import settings_of
from el4ner_local.tagging.tag_io import input_blocks

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

[[models]]
name = "c"
[models.source]
kind = "path"
path = "c.gguf"

[pipeline]
k = 2
verify = true
extract_min_votes = 2
[pipeline.weights]
a = 1.0
b = 0.5
c = 0.25
"""

SMALL = """
[profiles.small]
# two models, in their own order
models = ["b", "a"]
k = 3
[profiles.small.weights]
b = 0.75
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# -- parsing and the override semantics ---------------------------------------------------------


def test_a_profile_overrides_the_pipeline_keys_it_names_and_keeps_the_others(tmp_path):
    config = load_config(write(tmp_path, MODELS + SMALL))
    assert list(config.profiles) == [DEFAULT_PROFILE, "small"]
    accurate, small = config.profiles[DEFAULT_PROFILE], config.profiles["small"]
    assert accurate.models == ("a", "b", "c") and accurate.pipeline == config.pipeline
    assert small.models == ("b", "a")
    assert small.pipeline == PipelineSettings(k=3, verify=True, extract_min_votes=2, weights=(("b", 0.75),))


def test_a_profile_without_models_runs_every_model_and_inherits_weights_of_its_models_only(tmp_path):
    text = MODELS + '\n[profiles.lean]\nverify = false\n\n[profiles.two]\nmodels = ["c", "a"]\n'
    config = load_config(write(tmp_path, text))
    lean, two = config.profiles["lean"], config.profiles["two"]
    assert lean.models == ("a", "b", "c")
    assert lean.pipeline == PipelineSettings(
        k=2, verify=False, extract_min_votes=2, weights=(("a", 1.0), ("b", 0.5), ("c", 0.25))
    )
    # [pipeline]'s weight of b, which `two` leaves out, does not apply (as with --only)
    assert two.models == ("c", "a") and two.pipeline.weights == (("a", 1.0), ("c", 0.25))


def test_load_config_with_a_profile_gives_its_models_in_its_order_and_its_settings(tmp_path):
    path = write(tmp_path, MODELS + SMALL)
    full = load_config(path)
    assert full.profile == DEFAULT_PROFILE and [m.name for m in full.models] == ["a", "b", "c"]
    assert load_config(path, DEFAULT_PROFILE) == full
    small = load_config(path, "small")
    assert small.profile == "small"
    assert [m.name for m in small.models] == ["b", "a"] and small.models[1] == full.models[0]
    assert small.pipeline == full.profiles["small"].pipeline and small.profiles == full.profiles
    with pytest.raises(UserError, match=r"no model named 'c' in profile 'small' .*use one of: b, a"):
        small.model("c")  # --only picks within the profile


def test_an_unknown_profile_names_the_file_and_the_known_profiles(tmp_path):
    path = write(tmp_path, MODELS + SMALL)
    with pytest.raises(UserError) as info:
        load_config(path, "fats")
    assert str(info.value) == (
        f"{path}: no profile named 'fats' (fix: use one of: accurate, small "
        "(a profile is a [profiles.NAME] table of the models file))"
    )


def test_tagger_load_takes_the_profile(tmp_path):
    class Stand:  # a model that is never asked anything
        def __init__(self, name: str) -> None:
            self.name = name

    path = write(tmp_path, MODELS + SMALL)
    llms = [Stand("b"), Stand("a")]
    tagger = Tagger.load(models=path, profile="small", labels="person", index=None, llms=llms)
    assert tagger.settings == load_config(path, "small").pipeline
    assert Tagger.load(models=path, labels="person", index=None, llms=llms).settings.k == 2
    assert Tagger.load(models=path, profile="small", labels="person", index=None, llms=llms, k=5).settings.k == 5
    with pytest.raises(UserError, match="no model named 'c' in profile 'small'"):
        Tagger.load(models=path, profile="small", labels="person", index=None, only=["c"])
    with pytest.raises(UserError, match="no profile named 'nope'"):
        Tagger.load(models=path, profile="nope", labels="person", index=None)


def test_the_shipped_fast_profile_is_the_pipeline_that_was_the_default():
    """`--profile fast` must tag as the default did before the accurate default: the three small models
    and every setting of that pipeline. A [pipeline] key it does not set is inherited: when [pipeline]
    changes one of these, [profiles.fast] must set the old value."""
    fast = load_config(DEFAULT_MODELS_FILE, "fast")
    assert [m.name for m in fast.models] == ["qwen2.5-coder-0.5b", "smollm2-135m", "gemma3-270m"]
    assert fast.pipeline == PipelineSettings(
        k=2,
        demo_words=12,
        extract_min_votes=1,
        retrieval_spans="words",
        zero_shot_votes=False,
        type_source="extract",
        classify_threshold=0.0,
        verify=False,
        verify_threshold=0.5,
        verifiers=(),
        weights=(("gemma3-270m", 0.66), ("qwen2.5-coder-0.5b", 1.0), ("smollm2-135m", 0.37)),
        lexicon=False,
        lexicon_filter=False,
        max_output_lines=12,
        max_junk_lines=2,
        max_new_tokens=160,
    )
    accurate = load_config(DEFAULT_MODELS_FILE)
    assert accurate.profile == DEFAULT_PROFILE and set(accurate.profiles) == {DEFAULT_PROFILE, "fast"}
    assert accurate.profiles[DEFAULT_PROFILE].models == tuple(m.name for m in accurate.models)


# -- every mistake: one line naming the file, the line and the key ----------------------------


PROFILE_ERRORS = {
    # name: (text after MODELS, key, the line's needle in the text, words of the message)
    "unknown model": (
        '\n[profiles.p]\nmodels = ["a", "zz"]\n',
        "models",
        "models =",
        ["unknown model 'zz'", "a, b, c"],
    ),
    "empty models": ("\n[profiles.p]\nmodels = []\n", "models", "models =", ["non-empty list of model names"]),
    "models not a list": ('\n[profiles.p]\nmodels = "a"\n', "models", "models =", ["non-empty list"]),
    "a model twice": ('\n[profiles.p]\nmodels = ["a", "a"]\n', "models", "models =", ["listed twice"]),
    "votes above its models": (
        '\n[profiles.p]\nmodels = ["a", "b"]\nextract_min_votes = 3\n',
        "extract_min_votes",
        "extract_min_votes = 3",
        ["3 votes asked of 2 model(s)", "from 1 to 2"],
    ),
    "inherited votes above its models": (
        '\n[profiles.p]\nmodels = ["a"]\n',
        "extract_min_votes",
        "[profiles.p]",
        ["[pipeline]'s value, in profile 'p'", "2 votes asked of 1 model(s)", "set extract_min_votes in [profiles.p]"],
    ),
    "verifier outside its models": (
        '\n[profiles.p]\nmodels = ["a", "b"]\nextract_min_votes = 1\nverifiers = ["c"]\n',
        "verifiers",
        "verifiers =",
        ["unknown model 'c'", "[profiles.p] models: a, b"],
    ),
    "weight outside its models": (
        '\n[profiles.p]\nmodels = ["a", "b"]\n[profiles.p.weights]\nc = 1.0\n',
        "weights",
        "[profiles.p.weights]",
        ["unknown model 'c'"],
    ),
    "negative weight": ("\n[profiles.p]\n[profiles.p.weights]\na = -1\n", "weights", "[profiles.p.weights]", [">= 0"]),
    "unknown key": (
        "\n[profiles.p]\nmodel = []\n",
        "model",
        "model =",
        ["unknown key in [profiles.p]", "models", "verify_threshold"],
    ),
    "bad value": ('\n[profiles.p]\ntype_source = "vote"\n', "type_source", "type_source =", ['"extract"']),
    "renamed key": ('\n[profiles.p]\ncandidates = "words"\n', "candidates", "candidates =", ["retrieval_spans"]),
    "accurate": (
        "\n[profiles.accurate]\nk = 4\n",
        "profiles.accurate",
        "[profiles.accurate]",
        ["accurate is [pipeline]"],
    ),
    "a name --profile cannot give": (
        '\n[profiles."a b"]\nk = 4\n',
        "a b",
        "[profiles.",
        ["letters, digits, - and _ only"],
    ),
    "not a table": ("\n[profiles]\np = 3\n", "p", "p = 3", ["a profile must be a table"]),
    "profiles not a table": ("\n", "profiles", "profiles = 3", ["must be a table of profiles"]),
}


@pytest.mark.parametrize("case", list(PROFILE_ERRORS))
def test_each_profile_mistake_is_one_line_naming_file_line_and_key(tmp_path, case):
    tail, key, needle, words = PROFILE_ERRORS[case]
    text = ("profiles = 3\n" if case == "profiles not a table" else "") + MODELS + tail
    path = write(tmp_path, text)
    with pytest.raises(UserError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line_of(text, needle)}: key '{key}': "), message
    for word in words:
        assert word in message, (word, message)


def test_the_top_level_check_names_profiles(tmp_path):
    text = MODELS + "\n[profile.p]\nk = 3\n"
    with pytest.raises(UserError, match=r"key 'profile': unknown key .*\[profiles\.NAME\]"):
        load_config(write(tmp_path, text))


# -- the command line ----------------------------------------------------------------------------


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("EL4NER_MODELS", None)
    return subprocess.run(
        [sys.executable, "-m", "el4ner_local.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("command", ["tag", "eval", "annotate"])
def test_an_unknown_profile_is_refused_in_one_line_before_any_model_loads(tmp_path, command):
    src = tmp_path / "in.txt"
    src.write_text("Maria flew to Lisbon.\n", encoding="utf-8")
    args = {
        "tag": ["tag", str(src), "--labels", "person", "--index", "none"],
        "eval": ["eval", "--data", str(src), "--pool", str(src)],
        "annotate": ["annotate", str(src), "--labels", "person", "--index", "none"],
    }[command]
    proc = cli(*args, "--profile", "fats")
    assert proc.returncode == 2
    assert_one_line_error(proc, str(DEFAULT_MODELS_FILE), "no profile named 'fats'", "use one of: accurate, fast")


def test_settings_kept_beside_the_output_name_the_profile():
    common = dict(models=DEFAULT_MODELS_FILE, labels="person", schema=None, index=None, only=None, overrides={})
    assert settings_of(**common)["--profile"] == DEFAULT_PROFILE
    assert settings_of(**common, profile="fast")["--profile"] == "fast"


def test_a_resume_with_another_profile_is_refused(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("Maria flew to Lisbon.\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    blocks, _ = input_blocks(str(src))
    record = "".join(
        json.dumps({"name": str(src), "start": b.start, "text": b.text, "entities": []}) + "\n" for b in blocks
    )
    out.write_text(record, encoding="utf-8")  # every block done: nothing is loaded
    first = ["tag", str(src), "-o", str(out), "--labels", "person", "--index", "none"]
    assert cli(*first, "--profile", "fast").returncode == 0
    kept = tmp_path / ".out.jsonl.tag.json"
    assert json.loads(kept.read_text())["--profile"] == "fast"
    assert cli(*first, "--profile", "fast").returncode == 0  # the same profile resumes
    line = assert_one_line_error(cli(*first), str(out), "other settings (--profile differ)", "delete")
    assert line.count("--") == 1, line
    # settings kept before profiles existed were [pipeline]'s: the default profile's
    kept.write_text(json.dumps({k: v for k, v in json.loads(kept.read_text()).items() if k != "--profile"}))
    assert cli(*first).returncode == 0
    assert_one_line_error(cli(*first, "--profile", "fast"), "(--profile differ)")
    assert out.read_text(encoding="utf-8") == record
