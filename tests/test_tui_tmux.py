"""Smoke test in a real terminal: the real `el4ner-local annotate` command in tmux, with the default
models.toml (all three models) and the default demonstration pool, on a one-sentence file. Start it,
read the screen until the votes panel shows the three default models' votes, send keys (accept, help,
quit), read the screen and the annotations file.

Slow: the three models run for real. The polling loop has a generous cap only against a hang."""

from __future__ import annotations

import json
import shutil

import pytest
from tmux_support import kill_server, start_annotate, tmux, wait_for

pytestmark = pytest.mark.models

SENTENCE = "Ada Lovelace met Charles Babbage in London."


def model_names() -> list[str]:
    from el4ner_local.config import DEFAULT_MODELS_FILE, load_config

    return [spec.name for spec in load_config(DEFAULT_MODELS_FILE).models]


def test_votes_panel_names_the_default_models_in_a_real_terminal(tmp_path, default_models, monkeypatch):
    assert shutil.which("tmux"), "this smoke test needs tmux: apt-get install tmux (.ci/run does)"
    names = model_names()
    assert len(names) == 4
    doc = tmp_path / "news.txt"
    doc.write_text(SENTENCE + "\n", encoding="utf-8")
    name = "annotate"
    start_annotate(name, tmp_path, "news.txt")
    try:
        text = wait_for(
            name, lambda t: "votes: “" in t and "ensemble:" in t or "EXITED" in t, "the votes panel of a suggested span"
        )
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
        kill_server()
    # the session's own copy of the default pool index, beside the annotations
    assert (tmp_path / "news.annotations.session" / "index" / "manifest.json").exists()
