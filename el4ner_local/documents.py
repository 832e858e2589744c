"""Documents, sentences, tokens and spans, all as character offsets into the original text.

Offsets are Python string indices (code points), so they survive emoji, CJK, CRLF and tabs:
`text[span.start:span.end]` is always the entity text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# A token is a run of word characters, or a single other non-space character (emoji, punctuation).
_TOKEN_RE = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]", re.UNICODE)
# Sentence ends: . ! ? … or CJK full stops, then space; or a line break.
_SENT_END_RE = re.compile(r"(?<=[.!?…。！？])[\"'”’)\]]*\s+|\r?\n\s*")

MAX_SENTENCE_CHARS = 600  # longer sentences are split into windows (reported in the output)


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    label: str

    def text_in(self, text: str) -> str:
        return text[self.start : self.end]


@dataclass
class Sentence:
    """A piece of a document: [start, end) in the document, with its tokens (document offsets)."""

    start: int
    end: int
    tokens: list[tuple[int, int]]
    window: bool = False  # True when cut from a longer sentence
    spans: list[Span] = field(default_factory=list)  # gold spans (document offsets), when known

    def text_of(self, doc_text: str) -> str:
        return doc_text[self.start : self.end]


@dataclass
class Document:
    text: str
    sentences: list[Sentence]
    name: str = ""


def tokenize(text: str, offset: int = 0) -> list[tuple[int, int]]:
    return [(m.start() + offset, m.end() + offset) for m in _TOKEN_RE.finditer(text)]


def split_sentences(text: str, max_chars: int = MAX_SENTENCE_CHARS) -> list[Sentence]:
    """Sentences (and windows of over-long ones) covering every token of `text`, nothing dropped."""
    sentences: list[Sentence] = []
    pos = 0
    bounds = sentence_ends(text)
    bounds.append(len(text))
    for end in bounds:
        piece = text[pos:end]
        lead = len(piece) - len(piece.lstrip())
        start = pos + lead
        stop = pos + len(piece.rstrip())
        pos = end
        if stop <= start:
            continue
        sentences.extend(_windows(text, start, stop, max_chars))
    return sentences


def sentence_ends(text: str) -> list[int]:
    """Offsets where a sentence ends (after its closing punctuation and the space that follows)."""
    return [m.end() for m in _SENT_END_RE.finditer(text) if not _is_abbreviation(text, m.start())]


_ABBREVIATIONS = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "prof",
    "st",
    "jr",
    "sr",
    "vs",
    "etc",
    "inc",
    "ltd",
    "co",
    "no",
    "fig",
    "gen",
    "gov",
    "sen",
    "rep",
    "rev",
    "mt",
    "ft",
    "e.g",
    "i.e",
    "u.s",
    "u.k",
}


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the full stop before `end` closes an abbreviation or an initial ("Mr.", "J.")."""
    if end == 0 or text[end - 1] != ".":
        return False
    # look back a few characters only (longer than any abbreviation): a slice of the whole prefix
    # would make splitting a long text quadratic
    match = re.search(r"[\w.]*$", text[max(0, end - 17) : end - 1])
    assert match is not None  # matches every string (the empty run at its end, at least)
    word = match.group(0).lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def _windows(text: str, start: int, stop: int, max_chars: int) -> list[Sentence]:
    tokens = tokenize(text[start:stop], start)
    if stop - start <= max_chars:
        return [Sentence(start, stop, tokens)]
    out: list[Sentence] = []
    chunk: list[tuple[int, int]] = []
    for tok in tokens:
        if chunk and tok[1] - chunk[0][0] > max_chars:
            out.append(Sentence(chunk[0][0], chunk[-1][1], chunk, window=True))
            chunk = []
        chunk.append(tok)
    if chunk:
        out.append(Sentence(chunk[0][0], chunk[-1][1], chunk, window=True))
    return out


def make_document(text: str, name: str = "") -> Document:
    return Document(text=text, sentences=split_sentences(text), name=name)


def bio_tags(tokens: list[tuple[int, int]], spans: list[Span]) -> list[str]:
    """BIO tags for tokens given character spans; a span covers the tokens inside it."""
    tags = ["O"] * len(tokens)
    for span in sorted(spans):
        inside = [i for i, (s, e) in enumerate(tokens) if s >= span.start and e <= span.end]
        if not inside or any(tags[i] != "O" for i in inside):
            continue
        tags[inside[0]] = f"B-{span.label}"
        for i in inside[1:]:
            tags[i] = f"I-{span.label}"
    return tags


@dataclass
class LabelledSentence:
    """A sentence with gold spans (offsets into `text`), as read from a labelled corpus."""

    text: str
    tokens: list[tuple[int, int]]
    spans: list[Span]
    source: str = ""  # "file:line" of its first token, for error messages and reports
