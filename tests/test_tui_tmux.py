"""Smoke test in a real terminal: the real `el4ner-local annotate` command in tmux, with the default
models.toml (all three models) and the default demonstration pool, on a one-sentence file. Start it,
read the screen until the votes panel shows the three default models' votes, send keys (accept, help,
quit), read the screen and the annotations file.

Slow: the three models run for real. The polling loop has a generous cap only against a hang."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CAP = 2400.0  # seconds, against a hang only
SENTENCE = "Ada Lovelace met Charles Babbage in London."


SOCKET = f"el4ner-tests-{os.getpid()}"  # a tmux server of our own: our environment, nobody else's sessions


def tmux(*args: str, env=None) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], check=True, capture_output=True, text=True, env=env).stdout


def screen(name: str) -> str:
    return tmux("capture-pane", "-p", "-t", name)


def wait_for(name: str, condition, what: str, cap: float = CAP) -> str:
    deadline = time.monotonic() + cap
    while True:
        text = screen(name)
        if condition(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {cap:.0f} s for {what}; the screen shows:\n{text}")
        time.sleep(1.0)


def model_names() -> list[str]:
    from el4ner_local.config import DEFAULT_MODELS_FILE, load_config

    return [spec.name for spec in load_config(DEFAULT_MODELS_FILE).models]


def test_votes_panel_names_the_default_models_in_a_real_terminal(tmp_path, default_models, monkeypatch):
    assert shutil.which("tmux"), "this smoke test needs tmux: apt-get install tmux (.ci/run does)"
    names = model_names()
    assert len(names) == 3
    doc = tmp_path / "news.txt"
    doc.write_text(SENTENCE + "\n", encoding="utf-8")
    exe = Path(sys.executable).with_name("el4ner-local")
    cli = shlex.quote(str(exe)) if exe.exists() else f"{shlex.quote(sys.executable)} -m el4ner_local.cli"
    env = {k: v for k, v in os.environ.items() if k not in ("EL4NER_MODELS", "EL4NER_KEYS", "TMUX")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no user key map
    command = (f"cd {shlex.quote(str(tmp_path))} && env -u EL4NER_MODELS -u EL4NER_KEYS "
               f"XDG_CONFIG_HOME={shlex.quote(env['XDG_CONFIG_HOME'])} {cli} annotate news.txt "
               f"; echo EXITED $?; sleep 600")  # Textual draws on stderr: leave it on the terminal
    name = "annotate"
    tmux("new-session", "-d", "-s", name, "-x", "140", "-y", "42", command, env=env)
    try:
        text = wait_for(name, lambda t: "votes: “" in t and "ensemble:" in t or "EXITED" in t,
                        "the votes panel of a suggested span")
        assert "EXITED" not in text, text
        (tmp_path / "screen.txt").write_text(text, encoding="utf-8")
        print(text)  # pytest -s shows what the terminal showed
        for model in names:  # one row per model in the votes panel: extraction, type vote, verifier
            assert any(model in line and ("yes" in line or "no " in line) for line in text.splitlines()), (model, text)
        assert "sentence 1 of 1" in text and "suggestions 1/1" in text
        focused = text.split("votes: “", 1)[1].split("”", 1)[0]
        assert focused in SENTENCE

        tmux("send-keys", "-t", name, "a")
        wait_for(name, lambda t: "you: accepted" in t, "the accepted span")
        ann = tmp_path / "news.annotations.jsonl"
        (line,) = [json.loads(x) for x in ann.read_text().splitlines()]
        assert line["spans"][0]["text"] == focused and line["spans"][0]["verdict"] == "accepted"

        tmux("send-keys", "-t", name, "?")
        wait_for(name, lambda t: "accept the focused span" in t, "the help screen")
        tmux("send-keys", "-t", name, "Escape")
        wait_for(name, lambda t: "accept the focused span" not in t and "votes: “" in t, "the main screen again")
        tmux("send-keys", "-t", name, "q")
        text = wait_for(name, lambda t: "EXITED" in t, "the annotator to quit")
        assert "EXITED 0" in text, text
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
    # the session's own copy of the default pool index, beside the annotations
    assert (tmp_path / "news.annotations.session" / "index" / "manifest.json").exists()
