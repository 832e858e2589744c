"""The annotator with a real model (Qwen2.5-Coder-0.5B, one member of the default ensemble) and a real
demonstration index built from WNUT-17: wait for real suggestions, accept, reject, add a span, relabel,
widen, undo, quit; the file holds exactly those decisions; a restart resumes at the same place; an
accepted sentence goes into the index, and the next sentence's suggestions retrieve it.

Slow (minutes on two shared cores): the models run for real. No timing is asserted; the waits have
generous caps only so that a hang fails instead of blocking forever."""

from __future__ import annotations

import asyncio
import json

import pytest
from corpora import shared_data
from test_tui_support import shows, until

from el4ner_local.tui.annotation_state import ACCEPTED
from el4ner_local.tui.app import AnnotateApp

pytestmark = pytest.mark.models

WNUT = shared_data() / "wnut17" / "wnut17train.conll"
MODEL = "qwen2.5-coder-0.5b"
TEXT = "Ada Lovelace met Charles Babbage in London.\nBabbage never finished the Analytical Engine.\n"
CAP = 1800.0  # seconds; only against a hang


@pytest.fixture(scope="module")
def pool_index(tmp_path_factory):
    from el4ner_local.formats import read_labelled
    from el4ner_local.retrieval import DemoIndex

    pool = [s for s in read_labelled(WNUT) if len(s.spans) >= 2 and len(s.text) < 90][:12]
    return DemoIndex.build(pool, tmp_path_factory.mktemp("pool") / "index").path


def factory(index_dir):
    def load(progress):
        from el4ner_local.pipeline.tagger import Tagger

        progress(f"loading {MODEL}")
        return Tagger.load(only=[MODEL], index=index_dir, k=2)

    return load


def span_rows(app):
    s = app.state
    return [(s.text[x.start : x.end], x.label, x.verdict, x.origin) for x in s.current.spans]


def saved(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_annotating_with_real_suggestions_then_resuming(tmp_path, pool_index, default_models):
    doc = tmp_path / "notes.txt"
    doc.write_text(TEXT, encoding="utf-8")
    out = tmp_path / "notes.annotations.jsonl"

    async def first():
        app = AnnotateApp(doc, tagger_factory=factory(pool_index), ahead=0)
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.state.sentences[0].record is not None, CAP)
            await shows(pilot, app, MODEL, "suggestions 1/2")
            record = app.state.sentences[0].record
            assert [c.text for c in record.candidates][:2] == ["Ada Lovelace", "Charles Babbage"], record.raw
            labels = app.state.labels
            assert "person" in labels  # the schema comes from the index
            text = await shows(pilot, app, "votes: “Ada Lovelace”", "ensemble:")
            assert sum(MODEL in line for line in text.splitlines()) >= 2  # the status line and the votes table

            await pilot.press("a")  # accept Ada Lovelace
            await pilot.press("j", "r")  # reject Charles Babbage
            await pilot.press("right", "right")  # a token selection starts on the focused span; move to "Babbage"
            assert app._selection_text() == "Babbage"
            await pilot.press("s")  # add it (with the first type) ...
            await pilot.press(str(labels.index("person") + 1))  # ... relabel it
            await pilot.press("right_square_bracket")  # widen it to "Babbage in" ...
            assert ("Babbage in", "person", "accepted", "person") in span_rows(app)
            await pilot.press("u")  # ... and undo that
            rows = span_rows(app)
            assert rows[:3] == [
                ("Ada Lovelace", record.candidates[0].label, "accepted", "model"),
                ("Charles Babbage", record.candidates[1].label, "rejected", "model"),
                ("Babbage", "person", "accepted", "person"),
            ]
            assert all(verdict is None for _, _, verdict, _ in rows[3:])  # other suggestions: undecided
            await pilot.press("q")
        return app, record

    app, record = asyncio.run(first())
    assert app.return_code == 0
    (line,) = saved(out)
    assert line["status"] == "in progress" and line["sentence_index"] == 0
    # exactly the decisions made: undecided suggestions are not written
    assert [(s["text"], s["label"], s["verdict"], s["origin"]) for s in line["spans"]] == [
        ("Ada Lovelace", record.candidates[0].label, "accepted", "model"),
        ("Charles Babbage", record.candidates[1].label, "rejected", "model"),
        ("Babbage", "person", "accepted", "person"),
    ]
    assert [(e["text"], e["label"]) for e in line["entities"]] == [
        ("Ada Lovelace", record.candidates[0].label),
        ("Babbage", "person"),
    ]
    cache = (tmp_path / "notes.annotations.session" / "suggestions.jsonl").read_text().splitlines()
    assert len(cache) == 1 and json.loads(cache[0])["models"] == [MODEL]

    async def second():
        app = AnnotateApp(doc, tagger_factory=factory(pool_index), ahead=0)
        async with app.run_test(size=(120, 36)) as pilot:
            # the same place and the same decisions, with the votes from the cache (nothing recomputed)
            await shows(pilot, app, "sentence 1 of 2 · in progress", "votes: “Babbage”")
            assert span_rows(app)[app.state.focus] == ("Babbage", "person", "accepted", "person")
            assert app.state.sentences[0].record.to_json() == record.to_json()
            await until(pilot, lambda: app.model_status.state == "ready", CAP)
            await pilot.press("A")  # accept the sentence: it goes into the index, then sentence 2 is computed
            assert app.state.cursor == 1 and app.state.sentences[0].status == ACCEPTED
            expected = app.state.labelled_sentence(0)
            await until(pilot, lambda: app.model_status.indexed_here == 1, CAP)
            await until(pilot, lambda: app.state.sentences[1].record is not None, CAP)
            await pilot.press("q")
        return app, expected

    app, expected = asyncio.run(second())
    from el4ner_local.retrieval import DemoIndex

    index = DemoIndex.load(pool_index)
    added = [s for s in index.pool if s.text == "Ada Lovelace met Charles Babbage in London."]
    assert len(added) == 1 and added[0].source == "notes.txt: sentence 1"
    assert added[0].spans == expected.spans
    assert {(added[0].text[s.start : s.end], s.label) for s in added[0].spans} >= {
        ("Ada Lovelace", record.candidates[0].label),
        ("Babbage", "person"),
    }
    # later suggestions learn from it: sentence 2 was given the accepted sentence as a demonstration
    assert "Ada Lovelace met Charles Babbage in London." in app.state.sentences[1].record.demonstrations
    assert saved(out)[0]["status"] == ACCEPTED

    async def third():
        app = AnnotateApp(doc, tagger_factory=None)
        async with app.run_test(size=(120, 36)) as pilot:
            await shows(pilot, app, "sentence 2 of 2", "1 accepted")
            assert app.state.cursor == 1
            await pilot.press("q")

    asyncio.run(third())
