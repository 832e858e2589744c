"""Resuming `tag -o OUT.jsonl` (with or without --ray): which blocks OUT already holds, and the
blocks left to tag.

A rerun appends to OUT. First a last line cut short by a crash is cut off (a whole record missing
only its line end gets it), so OUT never holds half a record; a line that is not a record of `tag`
(name, start, text) stops the run, and so does a lone last line that neither begins as a record nor
follows any (the file is someone else's: it is not truncated). Then each input's blocks are compared
with OUT in order: a block is done when OUT holds a record with the input's name and the block's
start and text (each record counts for one block, so an input given twice needs its records twice);
the input is resumed from its first block that is not done, and every block from there on is tagged
and appended. So a run interrupted anywhere, rerun with the same inputs, ends with the same file as
an uninterrupted run. Records already in OUT are never rewritten (an input changed since is tagged
from its first changed block on, beside the old records)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError, say_error
from .blocks import Block
from .tag_io import InputError, doc_name, input_blocks, say


def done_blocks(path: Path) -> Counter:
    """How many records of each (name, start, text) a JSONL output of `tag` holds, read line by
    line; a last line cut short by a crash (one that begins as our records do, or follows some) is
    cut off the file first."""
    if path.exists() and not path.is_file():  # a device or a pipe (/dev/full, a fifo) holds no earlier run
        return Counter()
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return Counter()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the earlier output ({exc.strerror})", fix="choose another -o")
    done: Counter = Counter()
    whole_end, tail, number = 0, None, 0
    with f:
        for number, line in enumerate(f, 1):
            if not line.endswith(b"\n"):  # only the last line can lack its line end
                tail = line
                break
            whole_end += len(line)
            _add_record(done, path, number, line)
    if tail is not None and tail.strip():
        try:
            json.loads(tail)
        except ValueError:
            # cut off only what can be half a record of ours: never empty a file of something else
            if not (tail.startswith(b'{"name":') or sum(done.values())):
                _add_record(done, path, number, tail)  # refuses it
            with path.open("r+b") as f:  # half a record from an interrupted run: cut it off
                f.truncate(whole_end)
        else:
            _add_record(done, path, number, tail)
            with path.open("ab") as f:  # a whole record without its line end: keep it
                f.write(b"\n")
    return done


def _add_record(done: Counter, path: Path, number: int, line: bytes) -> None:
    if not line.strip():
        return
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not (
        isinstance(record, dict)
        and isinstance(record.get("name"), str)
        and isinstance(record.get("text"), str)
        and type(record.get("start")) is int
    ):
        raise UserError(
            f"{path}:{number}: not a record of `el4ner-local tag`, so it cannot be resumed",
            fix="choose another -o, or delete the file to start again",
        )
    done[record["name"], record["start"], record["text"]] += 1


@dataclass
class Tally:
    failed: int = 0  # inputs that could not be read
    skipped: int = 0  # blocks already in the output


def blocks_to_tag(files: list[str], done: Counter, tally: Tally) -> Iterator[tuple[int, str, int | None, Block]]:
    """(input number, name, length, block) of each block to tag, in input order, read as needed:
    an input's blocks done in OUT are skipped up to its first block that is not. A bad input is
    reported (say_error) and counted in tally.failed; the others are still read."""
    for number, name in enumerate(files):
        try:
            blocks, total = input_blocks(name)
            resumed = not done
            for block in blocks:
                key = (doc_name(name), block.start, block.text)
                if not resumed and done[key] > 0:
                    done[key] -= 1
                    tally.skipped += 1
                    continue
                resumed = True
                yield number, name, total, block
        except InputError as exc:  # a bad file before any block; stdin also after some
            say_error(exc.one_line())
            tally.failed += 1


def plan_blocks(
    files: list[str], output: Path | None, fmt: str
) -> tuple[Iterator[tuple[int, str, int | None, Block]], Tally, str]:
    """The blocks left to tag, their tally and the mode to open the output in: with -o OUT.jsonl
    the blocks OUT holds are skipped and OUT is appended to; other outputs are written anew."""
    resume = output is not None and fmt == "jsonl"
    tally = Tally()
    todo = blocks_to_tag(files, done_blocks(output) if output is not None and resume else Counter(), tally)
    return todo, tally, "a" if resume else "w"


def say_skipped(tally: Tally, output: Path | None) -> None:
    if tally.skipped:
        say(f"{output}: {tally.skipped} block(s) already tagged, skipped")
