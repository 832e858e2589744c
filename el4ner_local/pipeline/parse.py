"""Turn a small model's messy answer into spans of the sentence. Never raises, never invents
an offset: a span that is not in the sentence text (e.g. copied from a demonstration) is dropped."""

from __future__ import annotations

import re
from dataclasses import dataclass

_BULLET = re.compile(r"^\s*(?:[-*•]+|\d+[.)]|[a-z][.)])\s+", re.IGNORECASE)
_QUOTES = "\"'`“”‘’«»"
_NONE_WORDS = {"none", "no entities", "n/a", "nothing", "no entity", "null"}


@dataclass(frozen=True)
class Mention:
    """One line of an answer: the span text as the model wrote it and its type name (may be '')."""

    text: str
    type_name: str


def parse_answer(answer: str, max_lines: int = 50) -> list[Mention]:
    out: list[Mention] = []
    seen: set[tuple[str, str]] = set()
    for line in answer.splitlines()[:max_lines]:
        line = _BULLET.sub("", line).strip()
        if not line or line.lower().strip(".") in _NONE_WORDS:
            continue
        if line.lower().startswith(("sentence:", "entities:", "task:")):
            break  # the model started a new example: what follows is not about this sentence
        if "|" in line:
            text, _, type_name = line.partition("|")
        elif bracketed := re.match(r"(.*)\s\(([^()]+)\)\s*$", line):
            text, type_name = bracketed.groups()
        elif ":" in line:
            type_name, _, text = line.partition(":")  # "person: John"
        else:
            text, type_name = line, ""
        text = text.strip().strip(_QUOTES).strip()
        type_name = type_name.strip().strip(_QUOTES).strip().rstrip(".")
        if text and (text, type_name) not in seen:
            seen.add((text, type_name))
            out.append(Mention(text, type_name))
    return out


def locate(mention: str, text: str, tokens: list[tuple[int, int]], base: int = 0) -> list[tuple[int, int]]:
    """Every place `mention` occurs in `text` (sentence text starting at document offset `base`),
    aligned to token boundaries. Exact match first, then ignoring case and runs of whitespace.
    Returns document offsets."""
    mention = mention.strip()
    if not mention:
        return []
    starts = {s - base for s, _ in tokens}
    ends = {e - base for _, e in tokens}
    pattern = r"\s+".join(re.escape(part) for part in mention.split())
    for flags in (0, re.IGNORECASE):
        found = [
            (m.start(), m.end()) for m in re.finditer(pattern, text, flags) if m.start() in starts and m.end() in ends
        ]
        if found:
            return [(s + base, e + base) for s, e in found]
    return []
