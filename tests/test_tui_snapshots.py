"""Snapshot tests of the annotator's main screens (pytest-textual-snapshot), so that a layout change
shows up as a diff. They render hand-made records of the default ensemble's three models: these
snapshots are about layout, not about what the models say (test_tui_models.py runs real ones).

Update after an intended change: pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_support import DEFAULT_MODELS, LABELS, TEXT, default_records

from el4ner_local.tui.annotation_store import AnnotationStore
from el4ner_local.tui.app import AnnotateApp

SIZE = (110, 34)


@pytest.fixture
def here(tmp_path, monkeypatch):
    """Run in tmp_path with relative names, so that no temporary path shows on screen."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EL4NER_KEYS", "/etc/el4ner-local/keys.toml")  # shown in the help screen
    Path("notes.txt").write_text(TEXT, encoding="utf-8")
    s = AnnotationStore.open(Path("notes.txt")).state
    for i, rec in default_records().items():
        s.set_suggestions(i, rec, DEFAULT_MODELS)
    return tmp_path


def app():
    return AnnotateApp(Path("notes.txt"), labels=LABELS)


async def settle(pilot):
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.pause()


def test_main_screen_with_the_votes_of_three_models(here, snap_compare):
    assert snap_compare(app(), terminal_size=SIZE, run_before=settle)


def test_decisions_and_a_token_selection(here, snap_compare):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("a", "j", "r", "j", "right", "shift+left")  # accept, reject, select "in London"
        await settle(pilot)

    assert snap_compare(app(), terminal_size=SIZE, run_before=before)


def test_an_accepted_sentence_and_the_next_one(here, snap_compare):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)

    assert snap_compare(app(), terminal_size=SIZE, run_before=before)


def test_help_screen(here, snap_compare):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(app(), terminal_size=SIZE, run_before=before)


def test_error_screen_for_a_file_it_cannot_read(here, snap_compare):
    Path("scan.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert snap_compare(AnnotateApp(Path("scan.txt")), terminal_size=SIZE, run_before=settle)
