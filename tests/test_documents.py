"""Sentence splitting and windows keep every token and its offsets; nothing is dropped."""

from hypothesis import given
from hypothesis import strategies as st

from el4ner_local.documents import MAX_SENTENCE_CHARS, Span, bio_tags, make_document, split_sentences, tokenize


def test_sentences_keep_offsets_through_emoji_cjk_crlf_and_tabs():
    text = "Hello Mr. Smith 😀 went to 東京.\r\nThen\tParis! Paris again?"
    doc = make_document(text)
    assert [s.text_of(text) for s in doc.sentences] == [
        "Hello Mr. Smith 😀 went to 東京.",
        "Then\tParis!",
        "Paris again?",
    ]
    assert [text[a:b] for a, b in doc.sentences[0].tokens] == [
        "Hello",
        "Mr",
        ".",
        "Smith",
        "😀",
        "went",
        "to",
        "東京",
        ".",
    ]


def test_a_one_megabyte_line_is_cut_into_windows_that_keep_every_token():
    text = "word " * 200_000
    sents = split_sentences(text)
    assert len(sents) > 1 and all(s.window for s in sents)
    assert all(s.end - s.start <= MAX_SENTENCE_CHARS for s in sents)
    assert sum(len(s.tokens) for s in sents) == len(tokenize(text)) == 200_000


@given(st.text(max_size=400))
def test_sentences_cover_every_token_exactly_once(text):
    sents = split_sentences(text)
    assert [t for s in sents for t in s.tokens] == tokenize(text)
    for s in sents:
        assert 0 <= s.start < s.end <= len(text) and text[s.start : s.end].strip() == text[s.start : s.end]


def test_bio_tags_from_character_spans():
    text = "New York is big"
    toks = tokenize(text)
    assert bio_tags(toks, [Span(0, 8, "location")]) == ["B-location", "I-location", "O", "O"]
