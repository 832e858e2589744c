"""Plain `tag -o OUT.jsonl` resumes as `tag --ray` does (the same code, tagging/resume.py): a run killed
mid-file and rerun with the same inputs ends with the same file as an uninterrupted run; a torn last
line is dropped; a file that is not tag's output is refused and left as it was."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli_models import ROOT, assert_one_line_error
from test_tag_streaming import CAP, CHEAP, news, whole_lines

from el4ner_local.errors import UserError
from el4ner_local.file_lock import FileLock
from el4ner_local.tagging.blocks import BLOCK_CHARS
from el4ner_local.tagging.resume import done_blocks
from el4ner_local.tagging.tag_io import input_blocks


def tag(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env.pop("EL4NER_MODELS", None)
    return subprocess.run(
        [sys.executable, "-m", "el4ner_local.cli", "tag", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=CAP,
        stdin=subprocess.DEVNULL,
    )


def records_of_blocks(src: Path, name: str, blocks: int) -> str:
    """What `tag` writes for the first `blocks` blocks of `src` (without entities), named `name`."""
    found, _ = input_blocks(str(src))
    return "".join(
        json.dumps({"name": name, "start": b.start, "text": b.text, "entities": []}) + "\n"
        for b in itertools.islice(found, blocks)
    )


@pytest.mark.models
def test_a_killed_run_rerun_equals_an_uninterrupted_run(default_models, tmp_path):
    src = tmp_path / "in.txt"
    src.write_bytes(news(5 * BLOCK_CHARS, seed=3).encode("utf-8"))
    full, part = tmp_path / "full.jsonl", tmp_path / "part.jsonl"
    done = tag(str(src), "-o", str(full), *CHEAP)
    assert done.returncode == 0, done.stderr
    blocks = len(whole_lines(full))
    assert blocks >= 3

    proc = subprocess.Popen(
        [sys.executable, "-m", "el4ner_local.cli", "tag", str(src), "-o", str(part), *CHEAP],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + CAP
        while len(whole_lines(part)) < 1:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    kept = len(whole_lines(part))
    assert 1 <= kept < blocks  # killed mid-file
    with part.open("a", encoding="utf-8") as f:  # what a kill inside a write leaves: half a record
        f.write(full.read_text(encoding="utf-8").split("\n")[kept][:40])

    rerun = tag(str(src), "-o", str(part), *CHEAP)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{kept} block(s) already tagged, skipped" in rerun.stderr
    assert part.read_bytes() == full.read_bytes()

    again = tag(str(src), "-o", str(part), *CHEAP)  # everything done: nothing tagged, nothing loaded
    assert again.returncode == 0 and f"{blocks} block(s) already tagged" in again.stderr
    assert part.read_bytes() == full.read_bytes()


def test_an_output_that_is_not_tag_output_is_refused_and_kept(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("Maria flew to Lisbon.\n", encoding="utf-8")
    out = tmp_path / "notes.jsonl"
    out.write_text('{"id": 1, "note": "mine"}\n', encoding="utf-8")
    proc = tag(str(src), "-o", str(out), *CHEAP)
    assert_one_line_error(proc, "notes.jsonl:1", "not a record of `el4ner-local tag`")
    assert out.read_text(encoding="utf-8") == '{"id": 1, "note": "mine"}\n'


def test_blocks_already_in_the_output_are_not_tagged_again(tmp_path):
    """No model is needed when every block is done: the output is left as it is."""
    src = tmp_path / "in.txt"
    text = "Maria flew to Lisbon.\n"
    src.write_text(text, encoding="utf-8")
    out = tmp_path / "out.jsonl"
    record = json.dumps({"name": str(src), "start": 0, "text": text, "entities": []}) + "\n"
    out.write_text(record, encoding="utf-8")
    proc = tag(str(src), "-o", str(out), "--models", str(tmp_path / "absent.toml"))  # would fail if loaded
    assert proc.returncode == 0, proc.stderr
    assert "1 block(s) already tagged, skipped" in proc.stderr
    assert out.read_text(encoding="utf-8") == record


def test_a_torn_last_record_is_cut_off(tmp_path):
    out = tmp_path / "out.jsonl"
    whole = '{"name": "a.txt", "start": 0, "text": "Hi"}\n'
    for earlier in ['{"name": "a.txt", "sta', whole + "garbage"]:
        out.write_text(earlier)
        done = done_blocks(out)
        assert out.read_text() == earlier[: earlier.rfind("\n") + 1]
        assert sum(done.values()) == earlier.count("\n")


def test_a_lone_line_that_is_not_ours_is_refused_and_kept(tmp_path):
    out = tmp_path / "notes.jsonl"
    out.write_text("hello")
    with pytest.raises(UserError, match=r"notes.jsonl:1: not a record of `el4ner-local tag`"):
        done_blocks(out)
    assert out.read_text() == "hello"


def test_an_input_named_by_another_path_is_the_same_input(tmp_path):
    """A record names its input as it was given; a rerun naming the same file otherwise (./x, an
    absolute path, a symlink, from another folder) finds it done: no block is tagged twice, no model
    loaded. (A relative name in OUT is taken from the folder the rerun starts in.)"""
    (tmp_path / "sub").mkdir()
    src = tmp_path / "in.txt"
    src.write_text("Maria flew to Lisbon.\n", encoding="utf-8")
    os.symlink(src, tmp_path / "link.txt")
    out = tmp_path / "out.jsonl"
    runs = [
        ("in.txt", "./in.txt", tmp_path),
        ("in.txt", str(src), tmp_path),
        ("in.txt", "link.txt", tmp_path),
        (str(src), "../in.txt", tmp_path / "sub"),
    ]
    for recorded, name, cwd in runs:
        record = records_of_blocks(src, recorded, 1)
        out.write_text(record, encoding="utf-8")
        proc = tag(name, "-o", str(out), "--models", str(tmp_path / "absent.toml"), cwd=cwd)  # fails if loaded
        assert proc.returncode == 0, (name, proc.stderr)
        assert "1 block(s) already tagged, skipped" in proc.stderr
        assert out.read_text(encoding="utf-8") == record  # the name as first given


def test_a_resumed_run_that_fails_says_only_its_error(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("Maria flew to Lisbon.\n" * (2 * BLOCK_CHARS // 22), encoding="utf-8")  # two blocks at least
    out = tmp_path / "out.jsonl"
    record = records_of_blocks(src, str(src), 1)
    out.write_text(record, encoding="utf-8")
    proc = tag(str(src), "-o", str(out), "--models", str(tmp_path / "absent.toml"))
    assert_one_line_error(proc, "absent.toml", "models file not found")
    assert out.read_text(encoding="utf-8") == record


def test_a_rerun_with_other_settings_is_refused(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("Maria flew to Lisbon.\n", encoding="utf-8")
    schema = tmp_path / "schema.txt"
    schema.write_text("person = a human\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    record = records_of_blocks(src, str(src), 1)
    out.write_text(record, encoding="utf-8")
    models = tmp_path / "absent.toml"  # not there: every block is done, so nothing is loaded
    first = ["--models", str(models), "--labels", "person", "--index", "none", "--k", "2"]
    proc = tag(str(src), "-o", str(out), *first)
    assert proc.returncode == 0, proc.stderr
    kept = tmp_path / ".out.jsonl.tag.json"
    assert kept.stat().st_mode & 0o777 == 0o600
    assert tag(str(src), "-o", str(out), *first).returncode == 0  # the same settings resume

    changes = {
        "--labels": ["--labels", "place"],
        "--k": ["--k", "3"],
        "--only": ["--only", "smollm2-135m"],
        "--no-verify": ["--no-verify"],
        "--no-pool-names": ["--no-pool-names"],
        "--index": ["--index", "default"],
    }
    for option, change in changes.items():
        proc = tag(str(src), "-o", str(out), *first, *change)
        line = assert_one_line_error(proc, str(out), option, "other settings", "delete")
        assert line.count("--") == 1, line  # names only the option that changed
    proc = tag(
        str(src), "-o", str(out), "--models", str(models), "--schema", str(schema), "--index", "none", "--k", "2"
    )
    assert_one_line_error(proc, "--labels, --schema")
    models.write_text("[pipeline]\n")  # the models file's content counts, not its name
    assert_one_line_error(tag(str(src), "-o", str(out), *first), "--models")
    assert out.read_text(encoding="utf-8") == record


def test_a_run_that_writes_nothing_leaves_no_settings_behind(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("Maria flew to Lisbon.\n", encoding="utf-8")
    proc = tag(str(src), "-o", str(tmp_path / "out.jsonl"), "--models", str(tmp_path / "absent.toml"))
    assert_one_line_error(proc, "models file not found")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.txt"]


def test_two_runs_on_one_output_are_refused(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("Maria flew to Lisbon.\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    record = records_of_blocks(src, str(src), 1)
    out.write_text(record, encoding="utf-8")
    with FileLock(out):  # another run holds it (this process, for the test)
        for fmt in ["jsonl", "conll"]:
            proc = tag(str(src), "-o", str(out), "--format", fmt, "--models", str(tmp_path / "absent.toml"))
            assert_one_line_error(
                proc, str(out), "being written by another `el4ner-local tag`", f"process {os.getpid()}"
            )
    assert out.read_text(encoding="utf-8") == record
