"""CoNLL-style corpora (one token per line, a blank line between sentences): read gold spans, write BIO.

Accepted on reading, detected per file: BIO/IOB2, IOB1, BIOES/BILOU tags; `-DOCSTART-` lines; TAB- or
space-separated columns, token first and tag last (2, 3 or 4+ columns) or tag first; CRLF; a UTF-8 BOM;
an `en:` prefix on every token; zero-width characters inside tokens (dropped).

A sentence's text is its tokens joined by single spaces; token and span offsets index that text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TextIO

from el4ner_local.documents import Document, LabelledSentence, Span
from el4ner_local.errors import UserError
from el4ner_local.formats.text import read_utf8
from el4ner_local.formats.tokens import aligned_bio

DOCSTART = "-DOCSTART-"
LANG_PREFIX = "en:"  # some multilingual dumps (e.g. WikiANN) prefix every token with its language
_TAG_RE = re.compile(r"O|([BIESLU])-(.*\S.*)")
# Invisible characters seen inside tokens of real corpora (WNUT-17 dev); ZWJ stays: emoji need it.
_ZERO_WIDTH = dict.fromkeys(map(ord, "\ufeff\u200b\u2060"))
_TAG_FIX = (
    "tags must be O or PREFIX-TYPE with PREFIX one of B, I (IOB1/IOB2), E, S (BIOES), L, U (BILOU), "
    "in the last column (or the first)"
)


@dataclass
class _Row:
    line: int
    fields: list[str]


def read_conll(path: str | Path) -> list[LabelledSentence]:
    """Every sentence of a CoNLL file with its gold spans. UserError (file:line and fix) if unreadable."""
    path = Path(path)
    blocks = _blocks(path, read_utf8(path))
    if not blocks:
        raise UserError(
            f"{path}:1: no sentences found (the file holds no token lines)",
            fix="give a CoNLL file: one 'token<TAB>tag' per line, a blank line between sentences",
        )
    rows = [row for block in blocks for row in block]
    tag_first = _tag_first(path, rows)
    strip_prefix = all(_token(r, tag_first).startswith(LANG_PREFIX) for r in rows)
    out = []
    for block in blocks:
        tokens = [_token(r, tag_first) for r in block]
        if strip_prefix:
            tokens = [t[len(LANG_PREFIX) :] for t in tokens]
        sentence = labelled_sentence(tokens, [_tag(r, tag_first) for r in block], f"{path}:{block[0].line}")
        if sentence is not None:
            out.append(sentence)
    return out


def detect_scheme(tags: Iterable[str]) -> str:
    """'BIOES' (E-/S-/L-/U- present), 'IOB1' (some I- tag opens an entity) or 'IOB2'.

    Reading does not need this: one decoder is right for all three, because an I- tag that cannot
    continue the open entity opens a new one (IOB1's rule, and harmless for IOB2). It is for reports.
    """
    prev_label, scheme = None, "IOB2"
    for tag in tags:
        m = _match_tag(tag)
        prefix, label = m.groups() if m else (None, None)
        if prefix and prefix in "ESLU":
            return "BIOES"
        if prefix == "I" and label != prev_label:
            scheme = "IOB1"
        prev_label = label
    return scheme


def write_conll(items: Iterable[LabelledSentence | Document], handle: TextIO) -> int:
    """Write `token<TAB>BIO-tag` lines, a blank line after each sentence.

    Returns how many spans could not be written (a span that does not start and end on token
    boundaries, or overlaps another span: never moved onto the nearest tokens) so that callers can
    say so instead of losing them silently.
    """
    lost = 0
    for tokens, spans, text in _sentences_of(items):
        if not tokens:
            continue
        tags, missed = aligned_bio(tokens, spans)
        lost += missed
        for (start, end), tag in zip(tokens, tags, strict=True):
            token = text[start:end]
            if not token.strip(" ") or any(c in token for c in "\t\r\n"):
                raise ValueError(f"token {token!r} cannot be written as a CoNLL line")
            handle.write(f"{token}\t{tag}\n")
        handle.write("\n")
    return lost


def labels_of(sentences: Iterable[LabelledSentence]) -> list[str]:
    return sorted({span.label for sentence in sentences for span in sentence.spans})


def _sentences_of(items):
    for item in items:
        if isinstance(item, Document):
            for sentence in item.sentences:
                yield sentence.tokens, sentence.spans, item.text
        else:
            yield item.tokens, item.spans, item.text


def _blocks(path: Path, text: str) -> list[list[_Row]]:
    """Token rows grouped by sentence; blank (whitespace-only) and -DOCSTART- lines separate them."""
    blocks: list[list[_Row]] = []
    current: list[_Row] = []
    for number, line in enumerate(text.split("\n"), 1):
        fields = _fields(line) if line.strip() else []
        if not fields or (DOCSTART in line and any(f.removeprefix(LANG_PREFIX) == DOCSTART for f in fields)):
            if current:
                blocks.append(current)
            current = []
            continue
        if len(fields) < 2:
            raise UserError(
                f"{path}:{number}: one column ({fields[0][:40]!r}), expected a token and a tag",
                fix="separate token and tag with a TAB or a space; a blank line ends a sentence",
            )
        current.append(_Row(number, fields))
    if current:
        blocks.append(current)
    return blocks


def _fields(line: str) -> list[str]:
    line = line.rstrip("\r")
    if "\t" in line:  # TAB-separated: a token may then hold spaces
        parts = [part.strip(" ") for part in line.split("\t")]
    else:
        parts = line.split(" ")
    return [part for part in parts if part]


@lru_cache(maxsize=65536)  # few distinct tags per corpus, each row's tag is matched up to three times
def _match_tag(value: str) -> re.Match | None:
    return _TAG_RE.fullmatch(value)


def is_tag(value: str) -> bool:
    return _match_tag(value) is not None


def _tag_first(path: Path, rows: list[_Row]) -> bool:
    """Token first and tag last (CoNLL-2003), unless only the first column holds tags throughout."""
    if all(is_tag(r.fields[-1]) for r in rows):
        return False
    if all(is_tag(r.fields[0]) for r in rows):
        return True
    # Neither column is all tags: blame the first bad value of the column that is closer to it.
    last_hits = sum(is_tag(r.fields[-1]) for r in rows)
    first_hits = sum(is_tag(r.fields[0]) for r in rows)
    column = 0 if first_hits > last_hits else -1
    bad = next(r for r in rows if not is_tag(r.fields[column]))
    raise UserError(f"{path}:{bad.line}: {bad.fields[column][:40]!r} is not a NER tag", fix=_TAG_FIX)


def _token(row: _Row, tag_first: bool) -> str:
    return row.fields[1] if tag_first else row.fields[0]


def _tag(row: _Row, tag_first: bool) -> str:
    return row.fields[0] if tag_first else row.fields[-1]


def decode_tags(tags: list[str]) -> list[tuple[int, int, str]]:
    """Entities as (first token, last token, label), for IOB1, IOB2 and BIOES/BILOU alike. Every tag
    must be one (is_tag)."""
    entities: list[list] = []
    open_: list | None = None  # [first, last, label] of the entity that may still grow
    for i, tag in enumerate(tags):
        match = _match_tag(tag)
        if match is None:
            raise ValueError(f"not a NER tag: {tag!r}")
        prefix, label = match.groups()
        if prefix is None:  # O
            open_ = None
            continue
        if open_ is not None and open_[2] == label and prefix in "IEL":
            open_[1] = i
        else:
            open_ = [i, i, label]
            entities.append(open_)
        if prefix in "ESLU":  # these close the entity
            open_ = None
    return [tuple(e) for e in entities]


def labelled_sentence(tokens: list[str], tags: list[str], source: str) -> LabelledSentence | None:
    """Join tokens with spaces; tokens that are empty once zero-width characters go are dropped."""
    entities = decode_tags(tags)  # on the original tokens, so a dropped token cannot merge or split entities
    offsets: list[tuple[int, int] | None] = []
    parts: list[str] = []
    pos = 0
    for token in tokens:
        token = token.translate(_ZERO_WIDTH)
        if not token:
            offsets.append(None)
            continue
        if parts:
            pos += 1
        offsets.append((pos, pos + len(token)))
        parts.append(token)
        pos += len(token)
    if not parts:
        return None
    spans = []
    for first, last, label in entities:
        kept = [o for o in offsets[first : last + 1] if o is not None]
        if kept:
            spans.append(Span(kept[0][0], kept[-1][1], label))
    return LabelledSentence(" ".join(parts), [o for o in offsets if o is not None], spans, source)
