"""Labelled JSONL: one object per line, `{"text": ..., "entities": [{"start", "end", "label", "text"?}]}`.

This is what `tag` and the annotator write. Offsets are Python str indices (code points). Other keys
("votes", "sentences", scores) are ignored on reading.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
    return {
        "text": sentence.text,
        "entities": [
            {"start": s.start, "end": s.end, "label": s.label, "text": s.text_in(sentence.text)} for s in sentence.spans
        ],
    }


def read_jsonl(path: str | Path) -> list[LabelledSentence]:
    """One LabelledSentence per non-blank line. UserError naming file:line and the fix for any bad line."""
    return read_json_lines(path, _labelled, _FORMAT_FIX)


def read_json_lines(
    path: str | Path, parse: Callable[[dict, str], LabelledSentence | None], fix: str
) -> list[LabelledSentence]:
    """`parse(object, "file:line")` of each non-blank line (None: the line holds no example, skipped).
    Shared by the JSONL-based formats (ours, Prodigy, doccano); `fix` says how a good line looks."""
    path = Path(path)
    out, seen = [], 0
    for number, line in enumerate(read_utf8(path).split("\n"), 1):
        if line.strip():
            seen += 1
            sentence = parse(json_object(line, f"{path}:{number}", fix), f"{path}:{number}")
            if sentence is not None:
                out.append(sentence)
    if not seen:
        raise UserError(f"{path}:1: no records (the file is empty)", fix=fix)
    if not out:
        raise UserError(f"{path}: none of its {seen} records is an accepted example", fix=fix)
    return out


def json_object(line: str, where: str, fix: str) -> dict:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not valid JSON ({exc.msg}, column {exc.colno})", fix=fix) from None
    except RecursionError:
        raise UserError(f"{where}: JSON nested too deeply", fix=fix) from None
    if not isinstance(obj, dict):
        raise UserError(f"{where}: a JSON {type(obj).__name__}, expected an object", fix=fix)
    return obj


def text_of(obj: dict, where: str, fix: str) -> str:
    text = obj.get("text")
    if not isinstance(text, str):
        raise UserError(f'{where}: no "text" string', fix=fix)
    return text


def _labelled(obj: dict, where: str) -> LabelledSentence:
    text = text_of(obj, where, _FORMAT_FIX)
    entities = obj.get("entities")
    if not isinstance(entities, list):
        raise UserError(f'{where}: no "entities" list', fix='add "entities": [] to a line without entities')
    spans = sorted(_span(entity, text, f"{where}: entity {i + 1}") for i, entity in enumerate(entities))
    return LabelledSentence(text=text, tokens=tokenize(text), spans=spans, source=where)


def _span(entity, text: str, where: str) -> Span:
    if not isinstance(entity, dict):
        raise UserError(f"{where} is not an object", fix=_FORMAT_FIX)
    return checked_span(
        entity.get("start"),
        entity.get("end"),
        entity.get("label"),
        entity.get("text"),
        text,
        where,
        _FORMAT_FIX,
        names=("start", "end", "label"),
    )


def checked_span(
    start, end, label, given, text: str, where: str, fix: str, names: tuple[str, str, str] = ("start", "end", "label")
) -> Span:
    """A Span of `text` from a record's values, or a UserError saying which value is wrong and how to
    fix it; `given` is the record's own copy of the entity text (None if it has none), checked."""
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
        raise UserError(f'{where}: "{names[0]}" and "{names[1]}" must be integers, got {start!r} and {end!r}', fix=fix)
    if not 0 <= start < end <= len(text):
        raise UserError(
            f"{where}: offsets {start}..{end} are outside the text (length {len(text)}) or empty",
            fix="use 0 <= start < end <= len(text), in characters (code points)",
        )
    if not isinstance(label, str) or not label.strip():
        raise UserError(f'{where}: "{names[2]}" must be a non-empty string, got {label!r}', fix=fix)
    if given is not None and given != text[start:end]:
        raise UserError(
            f"{where}: text[{start}:{end}] is {text[start:end]!r}, not {given!r}",
            fix=_offset_hint(text, given, start, end),
        )
    return Span(start, end, label)


def _offset_hint(text: str, given, start: int, end: int) -> str:
    """Name the likely cause: offsets counted in UTF-16 units or UTF-8 bytes, as other tools do."""
    for encoding, width in (("utf-16-le", 2), ("utf-8", 1)):
        data = text.encode(encoding)
        if data[start * width : end * width].decode(encoding, errors="replace") == given:
            unit = "UTF-16 code units" if width == 2 else "UTF-8 bytes"
            return f"the offsets count {unit}; convert them to character (code point) offsets"
    return 'make "start"/"end" character (code point) offsets of the entity, or fix its "text"'
