"""Property-based tests: offsets and tokens survive our own writers and readers, for any text."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from el4ner_local.documents import LabelledSentence, Span, make_document, tokenize
from el4ner_local.errors import UserError
from el4ner_local.formats import dumps_record, read_conll, read_jsonl, read_labelled, read_text, record_of, write_conll

relaxed = settings(deadline=None)  # file I/O on a busy machine; other settings come from the active profile

# Pieces that break naive offset handling: CRLF, tabs, blank lines, emoji (incl. ZWJ sequences and
# flags), CJK, combining marks, line separators JSON leaves unescaped, zero-width characters.
TRICKY = [
    "\r\n",
    "\n",
    "\r",
    "\t",
    "\n\n",
    " ",
    "  ",
    "😀",
    "👨\u200d👩\u200d👧",
    "🇫🇷",
    "中文",
    "東京",
    "é",
    "e\u0301",
    "\u2028",
    "\u0085",
    "\ufeff",
    "\u200b",
    "\x00",
    '"',
    "\\",
]
ANY_CHAR = st.characters(codec="utf-8")  # every code point except surrogates
texts = st.lists(st.one_of(ANY_CHAR, st.sampled_from(TRICKY)), max_size=60).map("".join)
labels = st.text(ANY_CHAR, min_size=1, max_size=12).filter(str.strip)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """One folder per module: hypothesis runs examples one after another, each overwrites its file."""
    return tmp_path_factory.mktemp("formats")


def put(path: Path, content: str) -> Path:
    path.write_text(content, encoding="utf-8", newline="")  # newline="": CR and LF exactly as given
    return path


@st.composite
def labelled_texts(draw) -> LabelledSentence:
    text = draw(texts)
    spans = []
    for _ in range(draw(st.integers(0, 5)) if text else 0):
        start = draw(st.integers(0, len(text) - 1))
        spans.append(Span(start, draw(st.integers(start + 1, len(text))), draw(labels)))
    return LabelledSentence(text, tokenize(text), spans)


@relaxed
@given(st.lists(labelled_texts(), min_size=1, max_size=4))
def test_jsonl_round_trip_keeps_offsets(folder, sentences):
    lines = [dumps_record(record_of(s)) for s in sentences]
    assert all(len(line.splitlines()) == 1 for line in lines)
    path = put(folder / "x.jsonl", "\n".join(lines) + "\n")
    again = read_jsonl(path)
    assert read_labelled(path) == again
    assert len(again) == len(sentences)
    for before, after in zip(sentences, again, strict=True):
        assert after.text == before.text
        assert after.spans == sorted(before.spans)
        for span in after.spans:
            assert span.text_in(after.text) == before.text[span.start : span.end]
        assert after.tokens == tokenize(before.text)


# Tokens as a CoNLL line can hold them: no TAB or line break, no NUL, no zero-width characters (the
# reader strips those), no leading/trailing spaces, not a document boundary.
conll_tokens = st.text(
    st.characters(codec="utf-8", exclude_characters="\t\n\r\x00\ufeff\u200b\u2060"), min_size=1, max_size=8
).filter(lambda t: t == t.strip(" ") and t.removeprefix("en:") != "-DOCSTART-")
conll_labels = st.text(st.characters(codec="utf-8", exclude_characters="\t\n\r\x00"), min_size=1, max_size=8).filter(
    lambda t: t == t.strip(" ") and t.strip()
)


@st.composite
def token_sentences(draw) -> LabelledSentence:
    tokens = draw(st.lists(conll_tokens, min_size=1, max_size=8))
    offsets, pos = [], 0
    for token in tokens:
        offsets.append((pos, pos + len(token)))
        pos += len(token) + 1
    spans, i = [], 0
    while i < len(tokens):  # non-overlapping entities of whole tokens
        length = draw(st.integers(0, 3))
        if length and i + length <= len(tokens):
            spans.append(Span(offsets[i][0], offsets[i + length - 1][1], draw(conll_labels)))
            i += length
        else:
            i += 1
    return LabelledSentence(" ".join(tokens), offsets, spans)


@relaxed
@given(st.lists(token_sentences(), min_size=1, max_size=5))
def test_conll_round_trip_keeps_tokens_and_spans(folder, sentences):
    # A file whose every token starts with "en:" is read as a language-prefixed dump (prefix stripped).
    assume(not all(s.text[a:b].startswith("en:") for s in sentences for a, b in s.tokens))
    out = io.StringIO()
    assert write_conll(sentences, out) == 0
    again = read_conll(put(folder / "x.conll", out.getvalue()))
    assert [(s.text, s.tokens, s.spans) for s in again] == [(s.text, s.tokens, s.spans) for s in sentences]


doc_texts = st.lists(
    st.one_of(
        st.characters(codec="utf-8", exclude_characters="\x00\ufeff\u200b\u2060"),
        st.sampled_from([t for t in TRICKY if t not in "\x00\ufeff\u200b"]),
    ),
    max_size=80,
).map("".join)


@relaxed
@given(doc_texts, st.data())
def test_documents_round_trip_through_conll(folder, text, data):
    doc = make_document(text)
    doc.sentences = [s for s in doc.sentences if s.tokens]
    assume(doc.sentences)
    expected = []
    for sentence in doc.sentences:
        n = len(sentence.tokens)
        first = data.draw(st.integers(0, n - 1))
        last = data.draw(st.integers(first, n - 1))
        sentence.spans = [Span(sentence.tokens[first][0], sentence.tokens[last][1], "X")]
        expected.append(([text[a:b] for a, b in sentence.tokens], [(first, last)]))
    out = io.StringIO()
    assert write_conll([doc], out) == 0
    again = read_conll(put(folder / "doc.conll", out.getvalue()))
    got = []
    for s in again:
        starts = [a for a, _ in s.tokens]
        ends = [b for _, b in s.tokens]
        got.append(
            ([s.text[a:b] for a, b in s.tokens], [(starts.index(span.start), ends.index(span.end)) for span in s.spans])
        )
    assert got == expected


@relaxed
@given(st.binary(max_size=200) | texts.map(lambda t: t.encode("utf-8")))
def test_readers_fail_only_with_user_errors(folder, content):
    path = folder / "any.txt"
    path.write_bytes(content)
    for read in (read_conll, read_jsonl, read_labelled, read_text):
        try:
            read(path)
        except UserError as exc:
            assert str(path) in str(exc) and "\n" not in str(exc)
