"""The annotator's background model thread: quitting interrupts it between model calls, never in
the middle of the interface; a broken model setup is reported, not raised. The model here is a
stand-in that blocks on demand: it tests the thread's stopping, not what models say (the pilot
tests in test_tui_models.py use real ones)."""

from __future__ import annotations

import threading

from el4ner_local.config import PipelineSettings
from el4ner_local.errors import UserError
from el4ner_local.llm.backend import TokenStats
from el4ner_local.pipeline.stages import SentenceInput
from el4ner_local.pipeline.tagger import Tagger
from el4ner_local.schema import Schema
from el4ner_local.tui import suggester as sg


class Blocking:
    """Names one span, after waiting for `release` (a long model call)."""

    name = "blocking"

    def __init__(self):
        self.stats = TokenStats()
        self.calls = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def generate(self, *args, **kwargs):
        self.calls += 1
        self.entered.set()
        self.release.wait(60)
        return "Ada | person"

    def score(self, prompt, continuations, prefill=""):
        self.calls += 1
        return [0.0] * len(continuations)


def test_stop_ends_the_thread_after_the_current_model_call():
    model = Blocking()
    events = []
    tagger = Tagger(
        [model],
        Schema(("person",)),
        PipelineSettings(verify=False, type_source="both", extract_min_votes=1),
        index=None,
    )
    sugg = sg.Suggester(lambda progress: tagger, post=events.append)
    thread = threading.Thread(target=sugg.run)
    thread.start()
    sugg.want([(0, SentenceInput("Ada met Charles.", 0, [(0, 3), (4, 7), (8, 15), (15, 16)]))])
    assert model.entered.wait(60)
    sugg.stop()
    model.release.set()  # the call in progress returns ...
    thread.join(60)
    assert not thread.is_alive()
    assert model.calls == 1  # ... and no further call (the classification of "Ada") is made
    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["Progress", "Loaded"] and "Computing" in kinds and "Suggested" not in kinds


def test_a_model_setup_that_fails_is_reported():
    events = []

    def broken(progress):
        raise UserError("models.toml: no model named 'x'", fix="use one of: a, b")

    sg.Suggester(broken, post=events.append).run()
    assert isinstance(events[-1], sg.LoadFailed) and "no model named 'x'" in events[-1].message
