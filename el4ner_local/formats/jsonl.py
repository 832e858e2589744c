"""Labelled JSONL: one object per line, `{"text": ..., "entities": [{"start", "end", "label", "text"?}]}`.

This is what `tag` and the annotator write. Offsets are Python str indices (code points). Other keys
("votes", "sentences", scores) are ignored on reading.
"""

from __future__ import annotations

import json
from pathlib import Path

from el4ner_local.documents import LabelledSentence, Span, tokenize
from el4ner_local.errors import UserError
from el4ner_local.formats.text import read_utf8

_FORMAT_FIX = 'write one JSON object per line: {"text": "...", "entities": [{"start": 0, "end": 5, "label": "person"}]}'
# JSON leaves these unescaped, yet str.splitlines() and some editors break lines at them.
_LINE_BREAKERS = {"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def dumps_record(obj) -> str:
    """One JSON line (no trailing newline), non-ASCII kept readable, and safe for any line splitter."""
    line = json.dumps(obj, ensure_ascii=False)
    for char, escaped in _LINE_BREAKERS.items():
        line = line.replace(char, escaped)  # only ever inside strings, where the escape means the same
    return line


def record_of(sentence: LabelledSentence) -> dict:
    """The JSONL record of a labelled sentence (the inverse of reading one line)."""
    return {"text": sentence.text,
            "entities": [{"start": s.start, "end": s.end, "label": s.label, "text": s.text_in(sentence.text)}
                         for s in sentence.spans]}


def read_jsonl(path: str | Path) -> list[LabelledSentence]:
    """One LabelledSentence per non-blank line. UserError naming file:line and the fix for any bad line."""
    path = Path(path)
    out = []
    for number, line in enumerate(read_utf8(path).split("\n"), 1):
        if line.strip():
            out.append(_parse_line(line, f"{path}:{number}"))
    if not out:
        raise UserError(f"{path}:1: no records (the file is empty)", fix=_FORMAT_FIX)
    return out


def _parse_line(line: str, where: str) -> LabelledSentence:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})", fix=_FORMAT_FIX) from None
    except RecursionError:
        raise UserError(f"{where}: JSON nested too deeply", fix=_FORMAT_FIX) from None
    if not isinstance(obj, dict):
        raise UserError(f"{where}: a JSON {type(obj).__name__}, expected an object", fix=_FORMAT_FIX)
    text = obj.get("text")
    if not isinstance(text, str):
        raise UserError(f'{where}: no "text" string', fix=_FORMAT_FIX)
    entities = obj.get("entities")
    if not isinstance(entities, list):
        raise UserError(f'{where}: no "entities" list', fix='add "entities": [] to a line without entities')
    spans = sorted(_span(entity, text, f"{where}: entity {i + 1}") for i, entity in enumerate(entities))
    return LabelledSentence(text=text, tokens=tokenize(text), spans=spans, source=where)


def _span(entity, text: str, where: str) -> Span:
    if not isinstance(entity, dict):
        raise UserError(f"{where} is not an object", fix=_FORMAT_FIX)
    start, end, label = entity.get("start"), entity.get("end"), entity.get("label")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        raise UserError(f'{where}: "start" and "end" must be integers, got {start!r} and {end!r}', fix=_FORMAT_FIX)
    if not 0 <= start < end <= len(text):
        raise UserError(f"{where}: offsets {start}..{end} are outside the text (length {len(text)}) or empty",
                        fix="use 0 <= start < end <= len(text), in characters (code points)")
    if not isinstance(label, str) or not label.strip():
        raise UserError(f'{where}: "label" must be a non-empty string, got {label!r}', fix=_FORMAT_FIX)
    given = entity.get("text")
    if given is not None and given != text[start:end]:
        raise UserError(f"{where}: text[{start}:{end}] is {text[start:end]!r}, not {given!r}",
                        fix=_offset_hint(text, given, start, end))
    return Span(start, end, label)


def _offset_hint(text: str, given, start: int, end: int) -> str:
    """Name the likely cause: offsets counted in UTF-16 units or UTF-8 bytes, as other tools do."""
    for encoding, width in (("utf-16-le", 2), ("utf-8", 1)):
        data = text.encode(encoding)
        if data[start * width : end * width].decode(encoding, errors="replace") == given:
            unit = "UTF-16 code units" if width == 2 else "UTF-8 bytes"
            return f"the offsets count {unit}; convert them to character (code point) offsets"
    return 'make "start"/"end" character (code point) offsets of the entity, or fix its "text"'
