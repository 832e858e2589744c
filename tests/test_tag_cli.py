"""`el4ner-local tag` as a user runs it: real process, real model, bad inputs beside good ones."""

import json
import subprocess
import sys

import pytest

CHEAP = ["--only", "smollm2-135m", "--index", "none", "--labels", "person,location"]


def run(*args, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "el4ner_local.cli", "tag", *args], input=stdin, capture_output=True, timeout=1800
    )


@pytest.fixture(scope="module")
def bad_inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    (d / "empty.txt").write_bytes(b"")
    (d / "binary.bin").write_bytes(b"\x00\x01\x02PK\x03\x04" * 50)
    (d / "latin1.txt").write_bytes("Café in Zürich".encode("latin-1"))
    (d / "adir").mkdir()
    good = d / "good.txt"
    good.write_text("Maria flew to Lisbon.", encoding="utf-8")
    return d, good


def test_bad_inputs_get_one_line_each_and_good_ones_are_still_tagged(default_models, bad_inputs, tmp_path):
    d, good = bad_inputs
    out = tmp_path / "out.jsonl"
    files = [d / "empty.txt", d / "binary.bin", good, d / "latin1.txt", d / "adir", d / "missing.txt"]
    proc = run(*map(str, files), "-o", str(out), *CHEAP)
    assert proc.returncode == 1
    errors = proc.stderr.decode().strip().splitlines()
    assert "Traceback" not in proc.stderr.decode()
    assert len(errors) == 5, errors
    for name, word in [
        ("empty.txt", "empty"),
        ("binary.bin", "binary"),
        ("latin1.txt", "UTF-8"),
        ("adir", "directory"),
        ("missing.txt", "no such file"),
    ]:
        line = next(e for e in errors if name in e)
        assert line.startswith("el4ner-local: error:") and word.lower() in line.lower(), line
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["name"] for r in records] == [str(good)]
    assert records[0]["text"] == "Maria flew to Lisbon."


def test_stdin_and_conll_output(default_models):
    proc = run("-", "--format", "conll", *CHEAP, stdin=b"Maria flew to Lisbon.\n")
    assert proc.returncode == 0, proc.stderr.decode()
    rows = [line.split("\t") for line in proc.stdout.decode().splitlines() if line]
    assert [r[0] for r in rows] == ["Maria", "flew", "to", "Lisbon", "."]
    assert all(r[1] == "O" or r[1][:2] in ("B-", "I-") for r in rows)


def test_no_labels_and_no_pool_is_a_clear_error(default_models, tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("Hello there.")
    proc = run(str(f), "--index", "none")
    assert proc.returncode == 2
    assert proc.stderr.decode().strip().startswith("el4ner-local: error: no entity types")
