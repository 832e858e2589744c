"""Crash safety of the real annotator: decisions made in a real terminal (tmux) and saved, then the
process is killed with SIGKILL mid-session. The annotations file, the session's state and its
demonstration index must be whole on disk (parsed fully), and a restart must resume with every
decision saved before the kill.

Slow: a real model (the smallest default one) and the built-in pool's index. The polling loops have
a generous cap only against a hang."""

from __future__ import annotations

import json
import os
import shutil
import signal

import pytest
from tmux_support import annotator_pid, kill_server, start_annotate, tmux, wait_for

from el4ner_local.formats import read_labelled
from el4ner_local.retrieval import DemoIndex
from el4ner_local.tui.annotation_state import ACCEPTED
from el4ner_local.tui.annotation_store import AnnotationStore

pytestmark = pytest.mark.models

SENTENCES = [
    "Ada Lovelace met Charles Babbage in London.",
    "Maria flew from Lisbon to Porto with Tom.",
    "Dana works for Microsoft in Leeds.",
]
ARGS = ["notes.txt", "--only", "smollm2-135m"]


def annotation_lines(path) -> list[dict]:
    """Every line parsed: a half-written file fails here."""
    data = path.read_text(encoding="utf-8")
    assert data == "" or data.endswith("\n"), data[-200:]
    return [json.loads(line) for line in data.splitlines()]


def check_whole_on_disk(folder) -> tuple[list[dict], DemoIndex]:
    ann = folder / "notes.annotations.jsonl"
    lines = annotation_lines(ann)
    if lines:
        assert len(read_labelled(ann)) == len(lines)  # the labelled-JSONL reader takes it whole
    state = json.loads((folder / "notes.annotations.session" / "state.json").read_text(encoding="utf-8"))
    assert state["input_sha256"] and isinstance(state["cursor"], int)
    index = DemoIndex.load(folder / "notes.annotations.session" / "index")  # every file against its manifest
    return lines, index


def test_sigkill_mid_session_loses_no_saved_decision_and_a_restart_resumes(tmp_path, default_models):
    assert shutil.which("tmux"), "this test needs tmux: apt-get install tmux (.ci/run does)"
    (tmp_path / "notes.txt").write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    ann = tmp_path / "notes.annotations.jsonl"
    name = "crash"
    start_annotate(name, tmp_path, *ARGS)
    try:
        # accept sentences 1 and 2 (each moves on to the next); wait until each is saved and indexed
        for number in (1, 2):
            wait_for(
                name,
                lambda t, n=number: f"sentence {n} of 3" in t and "index: " in t or "EXITED" in t,
                f"sentence {number} with the models loaded",
            )
            tmux("send-keys", "-t", name, "A")
            wait_for(name, lambda t, n=number: f"(+{n} from here)" in t or "EXITED" in t, f"sentence {number} indexed")
            saved = annotation_lines(ann)
            assert [x["status"] for x in saved] == [ACCEPTED] * number
        assert "EXITED" not in tmux("capture-pane", "-p", "-t", name)
        before, _ = check_whole_on_disk(tmp_path)

        # one more decision, and SIGKILL right after the key is sent: the kill lands wherever the
        # annotator has got to (nothing times it to a write), so the third decision is whole or absent
        pid = annotator_pid(name)
        tmux("send-keys", "-t", name, "A")
        os.kill(pid, signal.SIGKILL)
        wait_for(name, lambda t: "EXITED 137" in t, "the killed annotator's exit status")
        tmux("kill-session", "-t", name)

        after, index = check_whole_on_disk(tmp_path)
        assert after[:2] == before  # what was saved is still there; the third is whole or absent
        pool = [s.text for s in index.pool]
        assert SENTENCES[0] in pool and SENTENCES[1] in pool

        start_annotate(name, tmp_path, *ARGS)
        text = wait_for(
            name,
            lambda t: "sentence 3 of 3" in t and "index: " in t or "EXITED" in t,
            "the restarted annotator, back at sentence 3",
        )
        assert "EXITED" not in text, text
        resumed = AnnotationStore.open(tmp_path / "notes.txt")
        assert [s.status for s in resumed.state.sentences[:2]] == [ACCEPTED, ACCEPTED]
        assert resumed.records()[:2] == before
        tmux("send-keys", "-t", name, "q")
        text = wait_for(name, lambda t: "EXITED" in t, "the annotator to quit")
        assert "EXITED 0" in text, text
    finally:
        kill_server()
    assert annotation_lines(ann)[:2] == before
    _, index = check_whole_on_disk(tmp_path)
    assert [s.text for s in index.pool].count(SENTENCES[0]) == 1  # re-queued on restart, not added twice
