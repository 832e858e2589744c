"""`el4ner-local models list | fetch | check` run as the real command in a subprocess:
results on stdout, and every mistake as one `el4ner-local: error:` line and a non-zero exit."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_wheel

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = b"GGUF" + bytes(range(256)) * 20
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def run(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    environ = dict(os.environ if env is None else env)
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "el4ner_local.cli", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode != 0, proc
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("el4ner-local: error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def fake_models(tmp_path: Path, sha: str = SHA) -> Path:
    path = tmp_path / "models.toml"
    path.write_text(f"""
[[models]]
name = "fake"
[models.source]
kind = "pypi"
file = "fake.gguf"
sha256 = "{sha}"
parts = [ {{ dist = "fake-gguf", version = "1.0.0", member = "fake_gguf/fake.gguf" }} ]

[[models]]
name = "hubfake"
[models.source]
kind = "hf"
repo = "someone/fake-GGUF"
file = "hub.gguf"
""")
    return path


def test_fetch_then_list_shows_verified(tmp_path, cache, wheelhouse):
    make_wheel(wheelhouse, "fake-gguf", "1.0.0", {"fake_gguf/fake.gguf": PAYLOAD})
    models = fake_models(tmp_path)
    proc = run("models", "fetch", "fake", "--models", str(models))
    assert proc.returncode == 0, proc.stderr
    assert (cache / "models" / "fake.gguf").read_bytes() == PAYLOAD
    assert "fake: fetched" in proc.stdout and "sha256 ok" in proc.stdout
    assert proc.stderr == ""
    proc = run("models", "list", "--models", str(models))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"models file: {models}"
    assert lines[1].split()[:3] == ["fake", "pypi", "verified"]
    assert lines[2].split()[:3] == ["hubfake", "hf", "missing"]


def test_list_shows_a_truncated_file_as_corrupt(tmp_path, cache):
    (cache / "models").mkdir(parents=True)
    (cache / "models" / "fake.gguf").write_bytes(PAYLOAD[:-10])
    proc = run("models", "list", "fake", "--models", str(fake_models(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    assert "CORRUPT (sha256 mismatch)" in proc.stdout.splitlines()[1]


def test_check_missing_gguf(tmp_path, cache):
    proc = run("models", "check", "fake", "--models", str(fake_models(tmp_path)))
    assert_one_line_error(proc, "model 'fake'", "fake.gguf is missing", "el4ner-local models fetch fake")
    assert proc.returncode == 2


def test_check_truncated_gguf(tmp_path, cache):
    (cache / "models").mkdir(parents=True)
    (cache / "models" / "fake.gguf").write_bytes(PAYLOAD[: len(PAYLOAD) // 2])
    proc = run("models", "check", "fake", "--models", str(fake_models(tmp_path)))
    assert_one_line_error(proc, "does not match its sha256 (truncated or corrupt)", "models fetch fake")


def test_check_a_file_llama_cpp_cannot_load(tmp_path, cache):
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"GGUF" + b"\0" * 64)
    models = tmp_path / "garbage.toml"
    models.write_text(f'[[models]]\nname = "junk"\n[models.source]\nkind = "path"\npath = "{garbage}"\n')
    proc = run("models", "check", "--models", str(models))
    assert_one_line_error(proc, "model 'junk': llama.cpp cannot load")


@pytest.mark.parametrize(
    "text, needles",
    [
        ('[[models]]\nname = "x"\nn_ctx = \n', (":3: invalid TOML",)),
        ('[[models]]\nname = "x"\ncolour = "red"\n', (":3: key 'colour': unknown key",)),
        ('[[models]]\nname = "x"\nn_ctx = "big"\n', (":3: key 'n_ctx': model 'x': must be an integer",)),
    ],
)
def test_malformed_models_file(tmp_path, cache, text, needles):
    models = tmp_path / "bad.toml"
    models.write_text(text)
    for command in ("list", "fetch", "check"):
        proc = run("models", command, "--models", str(models))
        assert_one_line_error(proc, str(models), *needles)


def test_models_file_from_the_environment(tmp_path, cache, monkeypatch):
    monkeypatch.setenv("EL4NER_MODELS", str(tmp_path / "absent.toml"))
    assert_one_line_error(run("models", "list"), "absent.toml: models file not found")


def test_unknown_model_name(tmp_path, cache):
    for command in ("list", "fetch", "check"):
        proc = run("models", command, "nope", "--models", str(fake_models(tmp_path)))
        assert_one_line_error(proc, "no model named 'nope'", "use one of: fake, hubfake")


def test_fetch_into_a_cache_that_cannot_be_written(tmp_path, monkeypatch, wheelhouse):
    blocker = tmp_path / "somefile"
    blocker.write_text("")
    monkeypatch.setenv("EL4NER_CACHE", str(blocker / "sub"))
    proc = run("models", "fetch", "fake", "--models", str(fake_models(tmp_path)))
    assert_one_line_error(proc, "is not writable", "EL4NER_CACHE")


def test_fetch_wrong_sha256(tmp_path, cache, wheelhouse):
    make_wheel(wheelhouse, "fake-gguf", "1.0.0", {"fake_gguf/fake.gguf": PAYLOAD})
    proc = run("models", "fetch", "fake", "--models", str(fake_models(tmp_path, sha="f" * 64)))
    assert_one_line_error(proc, "downloaded file has sha256", "expected ffffffffffff")
    assert not (cache / "models" / "fake.gguf").exists()


def test_fetch_hf_without_network(tmp_path, cache, monkeypatch, closed_port):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    proc = run("models", "fetch", "hubfake", "--models", str(fake_models(tmp_path)))
    assert_one_line_error(proc, "cannot reach the Hugging Face hub", str(closed_port))


def test_check_prints_load_time_and_speeds_for_a_real_model(default_models):
    proc = run("models", "check", "smollm2-135m")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    line = proc.stdout.strip().splitlines()[-1]
    assert line.startswith("smollm2-135m")
    fields = line.split()
    load = float(fields[fields.index("load") + 1].rstrip("s"))
    prompt_tps = float(fields[fields.index("prompt") + 1])
    gen_tps = float(fields[fields.index("generation") + 1])
    assert load > 0 and prompt_tps > 0 and gen_tps > 0  # measured, whatever the machine's load
    assert "answer" in line
