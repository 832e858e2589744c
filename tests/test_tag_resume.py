"""Plain `tag -o OUT.jsonl` resumes as `tag --ray` does (the same code, tagging/resume.py): a run killed
mid-file and rerun with the same inputs ends with the same file as an uninterrupted run; a torn last
line is dropped; a file that is not tag's output is refused and left as it was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from test_cli_models import ROOT, assert_one_line_error
from test_tag_streaming import CAP, CHEAP, news, whole_lines

from el4ner_local.errors import UserError
from el4ner_local.tagging.blocks import BLOCK_CHARS
from el4ner_local.tagging.resume import done_blocks


def tag(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return subprocess.run(
        [sys.executable, "-m", "el4ner_local.cli", "tag", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=CAP,
        stdin=subprocess.DEVNULL,
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
