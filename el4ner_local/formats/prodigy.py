"""Prodigy tasks (JSONL): `{"text": ..., "spans": [{"start", "end", "label", "token_start"?, "token_end"?}],
"tokens"?: [{"text", "start", "end", "id", "ws"}], "meta"?: {...}, "answer"?: "accept"}`.

Reading (a pool): offsets are character (code point) offsets into "text"; a span's "text", when given,
must be text[start:end]. A task answered "reject" or "ignore" (as `prodigy db-out` exports them) is
skipped, as Prodigy's own training does. The task's "tokens" are the sentence's tokens when it has
them, else el4ner-local's tokenizer's (documents.tokenize).

Writing: one task per block (tag) or accepted sentence (annotate --export). Its tokens are the given
ones (tag: el4ner-local's tokenizer; an export: the sentence's) cut at every span end, so each span
gets token_start/token_end and Prodigy's manual recipes keep the spans as they are. "meta" says where
the text comes from and, for the tagger's suggestions, each span's confidence and votes ("score": the
lowest confidence); an export's tasks are answered "accept".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from el4ner_local.documents import LabelledSentence, tokenize
from el4ner_local.errors import UserError
from el4ner_local.formats.jsonl import checked_span, read_json_lines, text_of
from el4ner_local.formats.tagged import OutText
from el4ner_local.formats.tokens import span_ends, split_at

_FIX = 'write one task per line: {"text": "...", "spans": [{"start": 0, "end": 5, "label": "PERSON"}]}'
SKIPPED_ANSWERS = ("reject", "ignore")


def read_prodigy(path: str | Path) -> list[LabelledSentence]:
    """The accepted tasks of a Prodigy JSONL file. UserError naming file:line and the fix for a bad line."""
    return read_json_lines(path, _sentence, _FIX)


def _sentence(obj: dict, where: str) -> LabelledSentence | None:
    if obj.get("answer") in SKIPPED_ANSWERS:
        return None
    text = text_of(obj, where, _FIX)
    spans = obj.get("spans")
    if not isinstance(spans, list):
        raise UserError(f'{where}: no "spans" list', fix='add "spans": [] to a task without entities')
    out = []
    for i, span in enumerate(spans, 1):
        if not isinstance(span, dict):
            raise UserError(f"{where}: span {i} is not an object", fix=_FIX)
        out.append(
            checked_span(
                span.get("start"),
                span.get("end"),
                span.get("label"),
                span.get("text"),
                text,
                f"{where}: span {i}",
                _FIX,
            )
        )
    tokens = _tokens(obj["tokens"], text, where) if obj.get("tokens") is not None else tokenize(text)
    return LabelledSentence(text=text, tokens=tokens, spans=sorted(out), source=where)


def _tokens(tokens, text: str, where: str) -> list[tuple[int, int]]:
    """The task's tokens as offsets, whitespace-only tokens left out (spaCy makes some of those)."""
    fix = 'give "tokens" as [{"text": "...", "start": 0, "end": 3}, ...] with character offsets, or leave them out'
    if not isinstance(tokens, list):
        raise UserError(f'{where}: "tokens" is not a list', fix=fix)
    out = []
    for i, token in enumerate(tokens, 1):
        start, end = (token.get("start"), token.get("end")) if isinstance(token, dict) else (None, None)
        if not (type(start) is int and type(end) is int and 0 <= start <= end <= len(text)):
            raise UserError(f"{where}: token {i} has no character offsets inside the text", fix=fix)
        given = token.get("text")
        if given is not None and given != text[start:end]:
            raise UserError(f"{where}: token {i}: text[{start}:{end}] is {text[start:end]!r}, not {given!r}", fix=fix)
        if text[start:end].strip():
            out.append((start, end))
    return out


def task(item: OutText) -> tuple[dict, int]:
    """The Prodigy task of one text, and how many spans could not get token positions (a span that
    begins or ends in whitespace: written with its character offsets only)."""
    text = item.text
    tokens = split_at(item.token_offsets(), span_ends(s.span for s in item.spans))
    starts = {start: i for i, (start, _) in enumerate(tokens)}
    ends = {end: i for i, (_, end) in enumerate(tokens)}
    spans, unplaced = [], 0
    for s in sorted(item.spans, key=lambda s: (s.start, s.end, s.label)):
        span = {"start": s.start, "end": s.end, "label": s.label, "text": text[s.start : s.end]}
        if s.start in starts and s.end in ends:
            span.update(token_start=starts[s.start], token_end=ends[s.end])
        else:
            unplaced += 1
        spans.append(span)
    out: dict[str, Any] = {
        "text": text,
        "tokens": [
            {"text": text[a:b], "start": a, "end": b, "id": i, "ws": text[b : b + 1].isspace()}
            for i, (a, b) in enumerate(tokens)
        ],
        "spans": spans,
        "meta": dict(item.meta),
    }
    if item.predicted:
        scores = [s.confidence for s in item.spans if s.confidence is not None]
        if scores:
            out["meta"]["score"] = round(min(scores), 4)
        out["meta"]["votes"] = [
            {"start": s.start, "end": s.end, "label": s.label, "confidence": s.confidence, **(s.votes or {})}
            for s in sorted(item.spans, key=lambda s: (s.start, s.end))
        ]
    else:
        out["answer"] = "accept"
    return out, unplaced
