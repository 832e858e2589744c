"""The annotator app driven with Textual's pilot, on suggestions saved earlier (hand-made records, no
models loaded): keys, mouse, the help screen, remapped keys, and what happens when files fail.
The same flows with real model suggestions are in test_tui_models.py."""

from __future__ import annotations

import asyncio
import errno
import json
import os

import pytest
from test_tui_support import DEFAULT_MODELS, LABELS, TEXT, default_records, screen_text, shows, until, unwritable_dir

from el4ner_local.tui import annotation_store as store_mod
from el4ner_local.tui import suggester as sg
from el4ner_local.tui.annotation_state import ACCEPTED
from el4ner_local.tui.annotation_store import AnnotationStore
from el4ner_local.tui.app import AnnotateApp, MainScreen
from el4ner_local.tui.help_screen import HelpScreen
from el4ner_local.tui.label_bar import LabelBar
from el4ner_local.tui.message_screen import MessageScreen
from el4ner_local.tui.quit_screen import QuitScreen
from el4ner_local.tui.save_as_screen import SaveAsScreen
from el4ner_local.tui.sentence_view import SentenceView
from el4ner_local.tui.span_list import SpanList

SIZE = (110, 34)


@pytest.fixture
def doc(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def with_suggestions(doc, out=None):
    """Compute nothing: store hand-made model records in the session's cache, as a run would."""
    store = AnnotationStore.open(doc, out)
    for i, rec in default_records().items():
        store.state.set_suggestions(i, rec, DEFAULT_MODELS)
    return store


def run(coro):
    return asyncio.run(coro)


def records(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def spans_of(app):
    s = app.state
    return [(s.text[x.start : x.end], x.label, x.verdict) for x in s.current.spans]


def test_keyboard_decisions_are_saved_as_made(doc):
    with_suggestions(doc)

    async def go():
        app = AnnotateApp(doc, labels=LABELS)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            assert isinstance(app.screen, MainScreen)
            assert "Ada Lovelace" in screen_text(app) and "qwen2.5-coder-0.5b" in screen_text(app)
            await pilot.press("a")  # accept Ada Lovelace
            await pilot.press("j", "r")  # reject Charles Babbage
            await pilot.press("j", "2")  # London: the models rejected it; type 2 brings it back
            assert spans_of(app) == [
                ("Ada Lovelace", "person", "accepted"),
                ("Charles Babbage", "person", "rejected"),
                ("London", "location", "accepted"),
            ]
            # add "Ada" ... no: select the token "met" and add it as a group, widen it, undo the widening
            await pilot.press("k", "k", "right")  # the token cursor starts on the focused span: "Ada"
            await pilot.press("right", "right")
            assert app._selection_text() == "met"
            await pilot.press("3")
            await pilot.press("right_square_bracket")
            assert ("met Charles", "group", "accepted") in spans_of(app)
            await pilot.press("u")
            assert ("met", "group", "accepted") in spans_of(app)
            on_disk = records(app.store.out_path)
            await pilot.press("q")
        return app, on_disk

    app, on_disk = run(go())
    assert app.return_code == 0
    (rec,) = on_disk
    assert rec["status"] == "in progress"
    assert [(x["text"], x["label"], x["verdict"], x["origin"]) for x in rec["spans"]] == [
        ("Ada Lovelace", "person", "accepted", "model"),
        ("met", "group", "accepted", "person"),
        ("Charles Babbage", "person", "rejected", "model"),
        ("London", "location", "accepted", "model"),
    ]
    assert [e["text"] for e in rec["entities"]] == ["Ada Lovelace", "met", "London"]


def test_accept_all_moves_on_and_a_restart_resumes_there(doc):
    with_suggestions(doc)

    async def first():
        app = AnnotateApp(doc, labels=LABELS)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("A")
            assert app.state.cursor == 1 and app.state.sentences[0].status == ACCEPTED
            await pilot.press("g")  # the next uncertain span: "Analytical Engine" (0.62), already here
            assert app.state.cursor == 1
            await pilot.press("n", "p")
            await pilot.press("q")

    async def second():
        app = AnnotateApp(doc, labels=LABELS)
        async with app.run_test(size=SIZE) as pilot:
            await shows(pilot, app, "sentence 2 of 3", "Analytical Engine")
            assert app.state.cursor == 1
            await pilot.press("p")
            await shows(pilot, app, "sentence 1 of 3 · accepted")
            await pilot.press("q")

    run(first())
    run(second())


def test_mouse_focuses_selects_and_labels(doc):
    with_suggestions(doc)

    async def go():
        app = AnnotateApp(doc, labels=LABELS)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.click(SpanList, offset=(3, 3))  # below the border, third row: London
            assert app.state.text[app.state.focused().start : app.state.focused().end] == "London"
            view = app.screen.query_one(SentenceView)
            # the sentence is the first line of the view (no previous sentence); "in" is at column 48
            col = view.render().plain.split("\n")[0].index(" in ") + 1
            await pilot.click(SentenceView, offset=(col + view.styles.padding.left + 1, 1))
            assert app._selection_text() == "in"
            col2 = view.render().plain.split("\n")[0].index("London") + 1
            await pilot.click(SentenceView, offset=(col2 + 2, 1), shift=True)
            assert app._selection_text() == "in London"
            labels = app.screen.query_one(LabelBar).render().plain
            await pilot.click(LabelBar, offset=(labels.index("location") + 1, 0))
            assert ("in London", "location", "accepted") in spans_of(app)
            await pilot.press("q")
        return app

    run(go())


def test_help_screen_lists_the_remapped_keys(doc):
    with_suggestions(doc)

    async def go():
        app = AnnotateApp(doc, labels=LABELS, keymap={"accept": "y", "reject": "d"})
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("a")  # no longer bound
            assert spans_of(app)[0][2] is None
            await pilot.press("y")
            assert spans_of(app)[0][2] == "accepted"
            await pilot.press("question_mark")
            await until(pilot, lambda: isinstance(app.screen, HelpScreen))
            text = await shows(pilot, app, "accept the focused span", "type: 1 person, 2")
            row = next(line for line in text.splitlines() if "accept the focused span" in line)
            assert row.split("█")[1].split()[0] == "y"  # the remapped key, not "a"
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, MainScreen))
            await pilot.press("q")

    run(go())


def test_an_unreadable_file_is_a_clear_message_in_the_app(tmp_path):
    bad = tmp_path / "scan.txt"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")

    async def go():
        app = AnnotateApp(bad, labels=LABELS)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MessageScreen))
            await shows(pilot, app, "binary file (NUL byte), not text", "fix: give a UTF-8 text file")
            await pilot.press("q")
        return app

    app = run(go())
    assert app.return_code == 2 and "binary file" in app.fatal.one_line()
    assert list(tmp_path.iterdir()) == [bad]  # nothing written


def test_a_read_only_output_path_shows_at_once_and_save_elsewhere_keeps_every_decision(doc, tmp_path):
    ro = unwritable_dir(tmp_path)
    target = ro / "notes.annotations.jsonl"
    rescue = tmp_path / "rescue" / "notes.jsonl"

    async def go():
        app = AnnotateApp(doc, target, labels=LABELS)
        async with app.run_test(size=SIZE) as pilot:
            await shows(pilot, app, "NOT SAVED: cannot write to")
            await pilot.press("right", "shift+right", "s")  # no suggestions here: add a span
            assert app.store.unsaved
            await pilot.press("q")
            await until(pilot, lambda: isinstance(app.screen, QuitScreen))
            await pilot.press("o")
            await until(pilot, lambda: isinstance(app.screen, SaveAsScreen))
            inp = app.screen.query_one("#save-as-path")
            inp.value = str(rescue)
            await pilot.press("enter")
            await pilot.pause()
        return app

    app = run(go())
    assert app.return_code == 0
    (rec,) = records(rescue)
    assert [(x["text"], x["origin"]) for x in rec["spans"]] == [("Ada Lovelace", "person")]


def test_a_full_disk_mid_session_is_reported_and_nothing_is_lost(doc, monkeypatch):
    with_suggestions(doc)
    real = store_mod.atomic_write
    state = {"full": False}

    def maybe_full(path, data, *mode):
        if state["full"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, data, *mode)

    monkeypatch.setattr(store_mod, "atomic_write", maybe_full)

    async def go():
        app = AnnotateApp(doc, labels=LABELS)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("a")
            state["full"] = True
            await pilot.press("j", "r")
            await shows(pilot, app, "NOT SAVED: cannot write", "No space left on device")
            assert [x["verdict"] for x in records(app.store.out_path)[0]["spans"]] == ["accepted"]
            await pilot.press("q")  # refused: the decision is only in memory
            await until(pilot, lambda: isinstance(app.screen, QuitScreen))
            state["full"] = False  # space freed
            await pilot.press("r")
            await pilot.pause()
        return app

    app = run(go())
    assert app.return_code == 0
    assert [x["verdict"] for x in records(app.store.out_path)[0]["spans"]] == ["accepted", "rejected"]


def test_export_writes_jsonl_and_conll_beside_the_annotations(doc):
    with_suggestions(doc)

    async def go():
        app = AnnotateApp(doc, labels=LABELS)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("A", "e", "q")
        return app

    run(go())
    folder = doc.parent
    assert records(folder / "notes.annotations.accepted.jsonl")[0]["entities"][0]["text"] == "Ada Lovelace"
    assert (folder / "notes.annotations.conll").read_text().startswith("Ada\tB-person\nLovelace\tI-person\n")


def test_export_never_writes_over_an_input(doc):
    """`annotate new.txt --out gold.jsonl --pool gold.conll`: the export key would write gold.conll
    (the pool) beside gold.jsonl; it says so and writes neither file."""
    pool = doc.parent / "gold.conll"
    pool.write_text("Ada\tB-person\nLovelace\tI-person\n", encoding="utf-8")
    before = pool.read_bytes()
    out = doc.parent / "gold.jsonl"
    with_suggestions(doc, out)

    async def go():
        app = AnnotateApp(doc, out, labels=LABELS, inputs=[pool])
        app.notify = lambda message, **how: said.append((message, how.get("severity")))  # type: ignore[method-assign]
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("A", "e", "q")
        return app

    said: list[tuple[str, str | None]] = []
    run(go())
    message, severity = said[-1]
    assert severity == "error" and message.startswith("cannot export: ")
    assert f"{pool}: is the input" in message
    assert pool.read_bytes() == before
    assert not (doc.parent / "gold.accepted.jsonl").exists()
    assert records(out)[0]["status"] == ACCEPTED


def test_each_model_event_reaches_its_own_handler(doc):
    """The model thread's events are Textual messages with a handler each (a misnamed handler would
    drop its event without a word): posted as that thread posts them, each changes what it should."""

    async def go():
        app = AnnotateApp(doc)  # no types until the models bring them
        async with app.run_test(size=SIZE) as pilot:
            st = app.model_status
            app.post_message(sg.Progress("loading qwen2.5-coder-0.5b"))
            await shows(pilot, app, "loading qwen2.5-coder-0.5b")
            app.post_message(sg.Loaded(DEFAULT_MODELS, tuple(LABELS), None))
            await until(pilot, lambda: st.state == "ready")
            assert st.models == DEFAULT_MODELS and app.state.labels == list(LABELS)
            app.post_message(sg.Computing(0))
            await until(pilot, lambda: st.computing == 0)
            app.post_message(sg.Suggested(0, default_records()[0], DEFAULT_MODELS, 1.5))
            await until(pilot, lambda: app.state.sentences[0].record is not None)
            assert st.computing is None and st.last_seconds == 1.5
            assert spans_of(app)[0] == ("Ada Lovelace", "person", None)
            app.post_message(sg.SuggestFailed(1, "RuntimeError: out of memory"))
            await until(pilot, lambda: st.problems == ["sentence 2: the models failed (RuntimeError: out of memory)"])
            app.post_message(sg.Indexed(0, None, 41, added=True))
            await until(pilot, lambda: st.indexed_here == 1 and st.index_sentences == 41)
            app.post_message(sg.Indexed(0, "disk full", 41))
            await until(pilot, lambda: st.problems[-1] == "demonstration index: disk full")
            app.post_message(sg.Computing(2))
            await until(pilot, lambda: st.computing == 2)
            app.post_message(sg.Idle())
            await until(pilot, lambda: st.computing is None)
            app.post_message(sg.LoadFailed("models.toml: no model named 'x'"))
            await until(pilot, lambda: st.state == "failed" and st.message == "models.toml: no model named 'x'")
            await pilot.press("q")

    run(go())


def test_a_name_the_pool_knows_shows_where_it_came_from(doc):
    """A span no model named, accepted because the pool labels those words (pipeline/lexicon.py): the span
    list counts it as the pool's, and the votes panel says so under the models' rows; it also says when the
    pool leaves a span's words unlabelled."""
    store = AnnotationStore.open(doc)
    recs = default_records()
    london = recs[0].candidates[2]
    london.extracted_by, london.extracted_types, london.type_probs, london.verification = [], {}, {}, {}
    london.lexicon, london.label, london.accepted, london.confidence = "location", "location", True, 0.9
    london.reason = ""
    babbage = recs[0].candidates[1]
    babbage.lexicon, babbage.accepted = "none", False
    babbage.reason = "your pool leaves these words unlabelled (100% of the times they occur)"
    for i, rec in recs.items():
        store.state.set_suggestions(i, rec, DEFAULT_MODELS)

    async def go():
        app = AnnotateApp(doc, labels=LABELS)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            await pilot.press("j", "j")  # focus London
            text = await shows(pilot, app, "your labelled pool names these words location (no model named them)")
            (row,) = [line for line in text.splitlines() if "London" in line and "0.90" in line]
            assert "pool" in row
            await pilot.press("k")  # Charles Babbage: named by two models, rejected by the pool's words
            await shows(pilot, app, "your labelled pool leaves these words unlabelled", "100% of the times they occur")
            await pilot.press("q")

    run(go())
