"""Cut input text into blocks of whole sentences as it is read, so that `tag` writes each block's
results as soon as they are done and holds one block at a time: a 5 MB file, or standard input that
stays open, costs no more memory for results than one block.

Blocks tile the input: block i starts where block i-1 ends, and their texts joined are the input.
A block ends at the first line end once it holds BLOCK_CHARS characters; a line longer than that
ends the block before it (at a line end) and is cut into blocks of its own, after a sentence end
(else after a space, else anywhere). A line break always ends a sentence
(documents.split_sentences), so except inside such an over-long line, a block's sentences are the
document's own and tagging block by block gives what tagging the whole document gives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..documents import sentence_ends

BLOCK_CHARS = 500


@dataclass(frozen=True)
class Block:
    start: int  # character offset of text in the whole input
    text: str


def lines_of(text: str) -> Iterator[str]:
    """The lines of `text`, each with its line end (without copying the text into a list)."""
    pos = 0
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end + 1
        yield text[pos:end]
        pos = end


def iter_blocks(lines: Iterable[str], size: int = BLOCK_CHARS) -> Iterator[Block]:
    """Blocks of about `size` characters from lines that keep their line ends (a text stream's lines)."""
    start, held = 0, 0
    parts: list[str] = []
    for line in lines:
        if held and len(line) > size:  # an over-long line starts a block of its own, not a word's tail
            text = "".join(parts)
            yield Block(start, text)
            start, parts, held = start + len(text), [], 0
        while len(line) > size:  # an over-long line: cut it inside
            cut = _cut(line, size)
            parts.append(line[:cut])
            text = "".join(parts)
            yield Block(start, text)
            start, parts, held, line = start + len(text), [], 0, line[cut:]
        parts.append(line)
        held += len(line)
        if held >= size:
            text = "".join(parts)
            yield Block(start, text)
            start, parts, held = start + len(text), [], 0
    if parts:
        yield Block(start, "".join(parts))


def _cut(line: str, room: int) -> int:
    """Where to cut an over-long line: after the last sentence end that fits, else a space, else at `room`."""
    room = max(room, 1)
    ends = [end for end in sentence_ends(line[: room + 1]) if 0 < end <= room]
    if ends:
        return ends[-1]
    space = line.rfind(" ", 0, room)
    return space + 1 if space > 0 else room
