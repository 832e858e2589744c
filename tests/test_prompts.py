"""Prompt layout: what the KV cache can serve across stages and sentences, and demonstrations cut
to a window around their entities."""

from __future__ import annotations

import pytest

from el4ner_local.documents import LabelledSentence, Span, tokenize
from el4ner_local.llm import load_model
from el4ner_local.pipeline import prompts
from el4ner_local.pipeline.prompts import PromptBook, demo_window
from el4ner_local.schema import parse_labels


def labelled(text: str, *entities: tuple[str, str]) -> LabelledSentence:
    spans = [Span(text.index(e), text.index(e) + len(e), label) for e, label in entities]
    return LabelledSentence(text, tokenize(text), spans)


LONG = labelled(
    "So yesterday after a very long and tiring day at the office I finally met Ada Lovelace "
    "at the old library in central London and we talked for hours about engines and numbers",
    ("Ada Lovelace", "person"),
    ("London", "location"),
)


def demo_text(demo, words):
    return demo_window(demo, words)[0]


def test_a_short_demonstration_or_no_limit_keeps_the_whole_sentence():
    short = labelled("Ada met  Charles\tin London .", ("London", "location"))
    assert demo_window(short, 12) == ("Ada met Charles in London .", short.spans)
    assert demo_window(LONG, 0) == (" ".join(LONG.text.split()), LONG.spans)


@pytest.mark.parametrize("words", [9, 12, 20])
def test_a_long_demonstration_is_cut_around_its_entities(words):
    text, shown = demo_window(LONG, words)
    assert "Ada Lovelace" in text and "London" in text and shown == LONG.spans  # every entity kept whole
    inner = text.removeprefix("... ").removesuffix(" ...")
    assert inner in LONG.text
    assert len(inner.split()) == words
    assert text.startswith("... ") and text.endswith(" ...")  # cut on both sides, and said so


@pytest.mark.parametrize("words", [4, 8])
def test_a_window_too_small_for_all_entities_shows_only_those_inside(words):
    text, shown = demo_window(LONG, words)
    assert "Ada Lovelace" in text and "London" not in text
    assert [s.label for s in shown] == ["person"]  # London is not listed: the window does not show it
    assert len(text.removeprefix("... ").removesuffix(" ...").split()) == words


def test_the_window_holds_the_largest_group_of_entities():
    text = "Paris " + "w " * 12 + "Berlin x Rome y " + "w " * 12 + "end"
    demo = labelled(text, ("Paris", "location"), ("Berlin", "location"), ("Rome", "location"))
    window, shown = demo_window(demo, 5)
    assert window == "... w Berlin x Rome y ..." and [text[s.start : s.end] for s in shown] == ["Berlin", "Rome"]


def test_an_entity_at_the_start_or_end_keeps_the_window_inside_the_sentence():
    start = labelled("Paris " + "word " * 30 + "end", ("Paris", "location"))
    assert demo_text(start, 6) == "Paris word word word word word ..."
    end = labelled("word " * 30 + "Berlin", ("Berlin", "location"))
    assert demo_text(end, 6) == "... word word word word word Berlin"
    none = labelled("word " * 30 + "end")
    assert demo_text(none, 5) == "word word word word word ..."


def test_a_demonstration_lists_only_the_entities_its_window_shows():
    book = PromptBook(parse_labels("person,location"))
    shared = book.shared("Ada visited Rome.", [LONG], 6)
    assert "Ada Lovelace | person" in shared and "London" not in shared


def test_stages_share_the_instructions_and_extraction_asks_no_extra_question():
    book = PromptBook(parse_labels("person,location"))
    demos = [LONG]
    stage1 = book.extract(book.shared("Ada visited Rome."))
    stage2 = book.extract(book.shared("Ada visited Rome.", demos, 8))
    assert stage1.system == stage2.system  # one system prompt for every sentence and stage
    assert "person; location" in stage1.system and "`text | type`" in stage1.system
    assert stage2.shared.endswith("Sentence: Ada visited Rome.\n") and stage2.question == ""
    assert "... I finally met Ada Lovelace at the old ..." in stage2.shared
    verify = book.verify(stage2.shared, "Rome", "location")
    assert verify.shared == stage2.shared and "Rome" in verify.question


@pytest.mark.models
def test_the_kv_cache_serves_the_instructions_to_the_next_sentence(default_models):
    """After one sentence, the next sentence's zero-shot prompt is evaluated from the end of the
    instructions on: the instructions come from the KV cache."""
    model = load_model(default_models.model("smollm2-135m"))
    book = PromptBook(parse_labels("person,location"))
    model.generate(
        book.extract(book.shared("Ada met Charles in London.")), prefill=prompts.EXTRACT_PREFILL, max_tokens=8
    )
    before = model.stats.copy()
    model.generate(
        book.extract(book.shared("Grace Hopper worked in Arlington.")), prefill=prompts.EXTRACT_PREFILL, max_tokens=8
    )
    spent = model.stats.minus(before)
    system_tokens = len(model.llm.tokenize(book.system.encode(), add_bos=False))
    assert spent.reused >= system_tokens
    assert spent.evaluated < 40  # the sentence and the chat template's few tokens, not the instructions


# -- demonstrations under a schema of other types (--labels over the built-in pool) -----------------


def test_a_demonstration_shows_only_the_schema_types_under_the_schema_names():
    demo = labelled(
        "Ada met Apple staff in London", ("Ada", "person"), ("Apple", "organization"), ("London", "location")
    )
    shown = parse_labels("person,organisation,drug").restrict(demo)
    assert [(s.text_in(demo.text), s.label) for s in shown.spans] == [("Ada", "person"), ("Apple", "organisation")]
    assert demo.spans[1].label == "organization"  # the pool's sentence is not changed
    same = parse_labels("person,organization,location").restrict(demo)
    assert same.spans == demo.spans


class _Demos:
    """A demonstration pool that always retrieves the same sentences (what the tagger shows is the test)."""

    def __init__(self, demos):
        self.demos, self.labels = demos, ["person", "corporation", "location"]

    def retrieve(self, text, spans, k, mode="span"):
        return list(self.demos[:k])

    def demonstration_pool(self):
        return list(self.demos)


class _Capture:
    name, identity = "capture", "capture"

    def __init__(self):
        from el4ner_local.llm.backend import TokenStats

        self.stats, self.prompts = TokenStats(), []

    def render(self, prompt):
        return prompt.system + prompt.shared + prompt.question

    def generate(self, prompt, **kw):
        self.prompts.append(prompt.shared)
        return ""

    def score(self, prompt, continuations, prefill=""):
        return [0.0 for _ in continuations]


def test_the_tagger_leaves_out_demonstrations_whose_entities_are_all_of_other_types():
    from el4ner_local.config import PipelineSettings
    from el4ner_local.pipeline.stages import SentenceInput
    from el4ner_local.pipeline.tagger import Tagger

    person = labelled("Ada Lovelace wrote notes", ("Ada Lovelace", "person"))
    company = labelled("Apple sold phones", ("Apple", "corporation"))
    empty = labelled("It rained all day")
    llm = _Capture()
    tagger = Tagger([llm], parse_labels("drug,person"), PipelineSettings(k=3), index=_Demos([company, person, empty]))
    text = "Aspirin helped Grace"
    tagger.tag_sentence(SentenceInput(text, 0, tokenize(text)))
    shown = llm.prompts[0]
    assert "Ada Lovelace | person" in shown and "It rained all day" in shown
    assert "Apple" not in shown and "corporation" not in shown
