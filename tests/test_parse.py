"""The model-output parser: tolerant of messy answers, never raises, never leaves the text."""

from hypothesis import given, settings
from hypothesis import strategies as st

from el4ner_local.documents import tokenize
from el4ner_local.pipeline.parse import locate, parse_answer


def test_parses_the_shapes_small_models_write():
    answer = '1. Lindsay | person\n- La Scala | location\nMilan (location)\nperson: Bob\nnone\n"Rome" | city.'
    got = [(m.text, m.type_name) for m in parse_answer(answer)]
    assert got == [
        ("Lindsay", "person"),
        ("La Scala", "location"),
        ("Milan", "location"),
        ("Bob", "person"),
        ("Rome", "city"),
    ]


def test_stops_at_a_new_example_and_drops_repeats():
    answer = "Paris | location\nParis | location\nSentence: Bob went home\nBob | person"
    assert [m.text for m in parse_answer(answer)] == ["Paris"]


def test_locate_every_mention_case_and_whitespace_tolerant_on_token_boundaries():
    text = "Lindsay met LINDSAY in New\r\nYork; Scalable"
    toks = tokenize(text, 100)
    assert locate("Lindsay", text, toks, 100) == [(100, 107)]
    assert locate("lindsay", text, toks, 100) == [(100, 107), (112, 119)]
    assert locate("New York", text, toks, 100) == [(123, 132)]
    assert locate("Scala", text, toks, 100) == []  # inside a word: not a span
    assert locate("Berlin", text, toks, 100) == []  # copied from elsewhere: dropped


@settings(max_examples=300)
@given(text=st.text(max_size=80), answer=st.text(max_size=200))
def test_parser_never_raises_and_never_leaves_the_text(text, answer):
    toks = tokenize(text, 7)
    for mention in parse_answer(answer):
        for s, e in locate(mention.text, text, toks, 7):
            assert 7 <= s < e <= 7 + len(text)
            assert text[s - 7 : e - 7].casefold().split() == mention.text.casefold().split()


def test_an_answer_that_loops_or_copies_demonstrations_is_cut_early():
    from el4ner_local.pipeline.stages import SentenceInput, _looping

    text = "Angela Merkel met Macron in Paris"
    sent = SentenceInput(text, 0, tokenize(text))
    assert not _looping("Angela Merkel | person\nParis | location\n", sent, 2)
    assert _looping("- person\n- location\n", sent, 2)  # schema names, not spans of the sentence
    assert _looping("Paris | location\nParis | location\nParis | location\n", sent, 2)
    assert not _looping("Toulouse | person\n", sent, 2)  # one stray line is tolerated
    assert not _looping("- person\n- location\n", sent, 0)  # 0 turns the check off
