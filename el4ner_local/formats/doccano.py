"""doccano JSONL, as its sequence-labelling projects import and export it: `{"text": ...,
"label": [[start, end, "LABEL"], ...]}` ("labels" is read too), or as its relation projects export it:
`"entities": [{"start_offset", "end_offset", "label"}]`. Other keys (id, Comments, meta) are ignored
on reading and become the example's metadata in doccano.

Offsets are character (code point) offsets into "text". doccano stores no tokens, so a read sentence
gets el4ner-local's tokens (documents.tokenize), as labelled JSONL does. Writing gives each line
"text", "label" and where the text comes from (tag: "name", "start"; an export: "source", ...).
"""

from __future__ import annotations

from pathlib import Path

from el4ner_local.documents import LabelledSentence, Span, tokenize
from el4ner_local.errors import UserError
from el4ner_local.formats.jsonl import checked_span, read_json_lines, text_of
from el4ner_local.formats.tagged import OutText

_FIX = 'write one example per line: {"text": "...", "label": [[0, 5, "PERSON"]]}'


def read_doccano(path: str | Path) -> list[LabelledSentence]:
    """Every example of a doccano JSONL file. UserError naming file:line and the fix for a bad line."""
    return read_json_lines(path, _sentence, _FIX)


def is_doccano(obj: dict) -> bool:
    """True when a JSONL record looks like doccano's rather than el4ner-local's own."""
    if isinstance(obj.get("label"), list) or isinstance(obj.get("labels"), list):
        return True
    entities = obj.get("entities")
    return isinstance(entities, list) and any(
        isinstance(e, list) or (isinstance(e, dict) and "start_offset" in e) for e in entities
    )


def _sentence(obj: dict, where: str) -> LabelledSentence:
    text = text_of(obj, where, _FIX)
    key = next((k for k in ("label", "labels", "entities") if k in obj), None)
    if key is None or not isinstance(obj[key], list):
        raise UserError(f'{where}: no "label" list', fix='add "label": [] to an example without entities')
    spans = sorted(_span(item, text, f"{where}: {key} {i}") for i, item in enumerate(obj[key], 1))
    return LabelledSentence(text=text, tokens=tokenize(text), spans=spans, source=where)


def _span(item, text: str, where: str) -> Span:
    if isinstance(item, dict):
        return checked_span(
            item.get("start_offset"),
            item.get("end_offset"),
            item.get("label"),
            None,
            text,
            where,
            _FIX,
            names=("start_offset", "end_offset", "label"),
        )
    if not (isinstance(item, list) and len(item) == 3):
        raise UserError(f"{where}: {item!r} is not [start, end, label]", fix=_FIX)
    start, end, label = item
    return checked_span(start, end, label, None, text, where, _FIX)


def record(item: OutText) -> dict:
    """The doccano line of one text (spans in order of start)."""
    labels = [[s.start, s.end, s.label] for s in sorted(item.spans, key=lambda s: (s.start, s.end, s.label))]
    return {"text": item.text, "label": labels, **item.meta}
