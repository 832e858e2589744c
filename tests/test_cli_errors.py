"""User mistakes on every command, run as the real console command: one `el4ner-local: error:` line
that names the file (and line) and the fix, and exit status 2; never a traceback.

Permissions: tests may run as root, who reads any file. Then the command runs under setpriv without
the capabilities that let root ignore file modes, so chmod 000 means for it what it means for a user.
A full disk is /dev/full, where every write fails with ENOSPC."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from signals import default_sigint
from test_cli_models import ROOT, assert_one_line_error

POOL = "Ada\tB-person\nmet\tO\nTom\tB-person\n.\tO\n\n"
CHEAP = ["--only", "smollm2-135m", "--index", "none", "--labels", "person,location"]
NO_OVERRIDE = ["setpriv", "--inh-caps=-dac_override,-dac_read_search", "--bounding-set=-dac_override,-dac_read_search"]


def run(*args: str) -> subprocess.CompletedProcess:
    """The console command as a user without root's power over file modes."""
    prefix = []
    if os.geteuid() == 0:
        assert shutil.which("setpriv"), "as root these tests need setpriv (util-linux)"
        prefix = NO_OVERRIDE
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("EL4NER_MODELS", None)
    return subprocess.run(
        [*prefix, sys.executable, "-m", "el4ner_local.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
        stdin=subprocess.DEVNULL,
    )


def fails(proc: subprocess.CompletedProcess, *needles: str) -> str:
    line = assert_one_line_error(proc, *needles)
    assert proc.returncode == 2, proc.stderr
    assert "(fix: " in line, line
    return line


@pytest.fixture
def files(tmp_path) -> Path:
    (tmp_path / "a.txt").write_text("Maria flew to Lisbon.\n", encoding="utf-8")
    (tmp_path / "pool.conll").write_text(POOL, encoding="utf-8")
    (tmp_path / "bad.toml").write_text('[[models]\nname = "x"\n')
    (tmp_path / "badpipe.toml").write_text(
        '[pipeline]\nk = -3\n\n[[models]]\nname = "x"\n[models.source]\nkind = "path"\npath = "x.gguf"\n'
    )
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "a.txt").write_text("Maria flew to Lisbon.\n", encoding="utf-8")
    (locked / "pool.conll").write_text(POOL, encoding="utf-8")
    (locked / "a.txt").chmod(0)
    (locked / "pool.conll").chmod(0)
    (tmp_path / "ro").mkdir(mode=0o555)
    return tmp_path


def unreadable_model(tmp_path: Path, default_models, with_sha: bool) -> Path:
    """models.toml naming a chmod 000 copy of a real model file (its sha256 given or not)."""
    spec = default_models.model("smollm2-135m")
    from el4ner_local.llm.sources import expected_path

    copy = tmp_path / "locked.gguf"
    shutil.copyfile(expected_path(spec), copy)
    copy.chmod(0)
    sha = f'sha256 = "{spec.source.sha256}"\n' if with_sha else ""
    models = tmp_path / f"locked-{with_sha}.toml"
    models.write_text(f'[[models]]\nname = "locked"\n[models.source]\nkind = "path"\npath = "{copy}"\n{sha}')
    return models


@pytest.mark.parametrize(
    "command",
    [
        ["tag", "a.txt", "--labels", "person"],
        ["eval", "--data", "pool.conll", "--pool", "pool.conll"],
        ["annotate", "a.txt"],
        ["models", "list"],
    ],
)
def test_bad_models_files(files, command, monkeypatch):
    monkeypatch.chdir(files)
    fails(run(*command, "--models", "bad.toml"), "bad.toml:1: invalid TOML", "correct the syntax")
    fails(run(*command, "--models", "badpipe.toml"), "badpipe.toml:2: key 'k': must be an integer >= 0")


def test_missing_and_malformed_inputs(files, monkeypatch):
    monkeypatch.chdir(files)
    fails(
        run("tag", "a.txt", "--format", "xml"),
        "unknown --format 'xml'",
        "use jsonl, conll, table, prodigy, doccano, label-studio, spacy or hf",
    )
    fails(run("tag", "a.txt", "--workers", "2"), "--workers needs --ray", "add --ray local")
    fails(run("eval", "--data", "nope.conll", "--pool", "pool.conll"), "nope.conll: no such test file")
    fails(run("eval", "--data", "a.txt", "--pool", "pool.conll"), "a.txt:1: 'Lisbon.' is not a NER tag")
    fails(run("index", "build", "a.txt", "-o", "idx"), "a.txt:1: 'Lisbon.' is not a NER tag")
    fails(run("index", "info", "nope"), "nope: no such index directory", "index build")
    fails(run("annotate", "nope.txt"), "nope.txt: no such file", "check the path")  # before any interface
    fails(run("annotate", "pool.conll", "--out", "a.txt"), "a.txt:1: not an annotation record")


def test_unreadable_inputs(files, monkeypatch):
    monkeypatch.chdir(files)
    proc = run("tag", "locked/a.txt", *CHEAP)  # a bad input is skipped (exit 1): the others are still tagged
    assert proc.returncode == 1 and "locked/a.txt: cannot be read (Permission denied)" in proc.stderr, proc.stderr
    fails(run("eval", "--data", "locked/pool.conll", "--pool", "pool.conll"), "locked/pool.conll", "Permission denied")
    fails(run("index", "build", "locked/pool.conll", "-o", "idx"), "locked/pool.conll", "Permission denied")
    fails(run("annotate", "locked/a.txt"), "locked/a.txt: cannot be read (Permission denied)")
    (files / "a.annotations.jsonl").write_text("")
    (files / "a.annotations.jsonl").chmod(0)
    fails(run("annotate", "a.txt"), "a.annotations.jsonl: cannot read the annotations (Permission denied)")


@pytest.mark.parametrize("with_sha", [False, True])
def test_unreadable_model_file(files, default_models, with_sha):
    models = unreadable_model(files, default_models, with_sha)
    for command in (["models", "check"], ["tag", str(files / "a.txt"), "--index", "none", "--labels", "person"]):
        fails(run(*command, "--models", str(models)), "locked.gguf", "Permission denied")


def test_outputs_that_cannot_be_written(files, default_models, monkeypatch):
    monkeypatch.chdir(files)
    fails(run("tag", "a.txt", "-o", "ro/out.jsonl", *CHEAP), "ro/out.jsonl: cannot write output (Permission denied)")
    fails(
        run("tag", "a.txt", "-o", "/dev/full", *CHEAP),
        "/dev/full: cannot write (No space left on device)",
        "free disk space",
    )
    proc = run("index", "build", "pool.conll", "-o", "ro/idx")  # its progress lines come first
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines()[-1] == "el4ner-local: error: ro/idx: Permission denied (fix: check its permissions)"
    fails(
        run("annotate", "a.txt", "--out", "ro/a.jsonl", "--export", "ro/x.jsonl"),
        "ro/x.jsonl: cannot write",
        "Permission denied",
    )


def test_ctrl_c_stops_index_build_with_one_line_and_keeps_no_half_index(tmp_path):
    from corpora import shared_data

    out = tmp_path / "idx"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "el4ner_local.cli",
            "index",
            "build",
            str(shared_data() / "wnut17" / "wnut17train.conll"),
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    assert "embedding" in next(line for line in proc.stderr if "embedding" in line or "error" in line)
    proc.send_signal(signal.SIGINT)  # thousands of sentences to embed: well before it is done
    rest = proc.stderr.read()
    assert proc.wait(timeout=1800) == 130
    assert rest.strip().splitlines() == ["el4ner-local: error: interrupted"], rest
    assert not (out / "manifest.json").exists()  # no index that claims to be whole
