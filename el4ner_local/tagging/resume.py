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
from its first changed block on, beside the old records). A record matches an input by the file
its name names (`notes.txt`, `./notes.txt`, an absolute path and a symlink are one input; a relative
name in OUT is taken from the current folder), and keeps the name as given.

A run holds a lock on OUT (two runs on one OUT are refused), and the settings that decide the labels
(models file, profile, labels, schema, index, --only, --k, --no-verify) are kept beside OUT in `.OUT.tag.json`:
a rerun with other settings is refused rather than mixing the two in one file."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checksums import sha256_file
from ..config import DEFAULT_PROFILE
from ..durable import append_durable, atomic_write
from ..errors import UserError, say_error
from ..file_lock import FileLock
from .blocks import Block
from .tag_io import InputError, doc_name, input_blocks, say

Done = Counter[tuple[object, int, str]]  # records in OUT of each block: (input file, start, text) -> count


def _file_of(name: str) -> object:
    """What a record's name (or an input's) stands for: the file it names where there is one (so that
    every path to it is one input), else the path resolved; "" is standard input."""
    if not name:
        return ""
    try:
        st = os.stat(name)
    except OSError:
        return os.path.realpath(name)
    except ValueError:  # a name no file can have (a NUL in it)
        return name
    return (st.st_dev, st.st_ino)


def done_blocks(path: Path) -> Done:
    """How many records of each (input file, start, text) a JSONL output of `tag` holds, read line by
    line; a last line cut short by a crash (one that begins as our records do, or follows some) is
    cut off the file first."""
    if path.exists() and not path.is_file():  # a device or a pipe (/dev/full, a fifo) holds no earlier run
        return Counter()
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return Counter()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the earlier output ({exc.strerror})", fix="choose another -o") from None
    done: Done = Counter()
    files: dict[str, object] = {}  # each name's file, looked up once
    whole_end, tail, number = 0, None, 0
    with f:
        for number, line in enumerate(f, 1):
            if not line.endswith(b"\n"):  # only the last line can lack its line end
                tail = line
                break
            whole_end += len(line)
            _add_record(done, files, path, number, line)
    if tail is not None and tail.strip():
        try:
            json.loads(tail)
        except ValueError:
            # cut off only what can be half a record of ours: never empty a file of something else
            if not (tail.startswith(b'{"name":') or done.total()):
                _add_record(done, files, path, number, tail)  # refuses it
            append_durable(path, b"", truncate_to=whole_end)  # half a record from an interrupted run: cut it off
        else:
            _add_record(done, files, path, number, tail)
            append_durable(path, b"\n", truncate_to=whole_end + len(tail))  # a whole record without its line end
    return done


def _add_record(done: Done, files: dict[str, object], path: Path, number: int, line: bytes) -> None:
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
    name = record["name"]
    if name not in files:
        files[name] = _file_of(name)
    done[files[name], record["start"], record["text"]] += 1


@dataclass
class Tally:
    failed: int = 0  # inputs that could not be read
    skipped: int = 0  # blocks already in the output


def blocks_to_tag(files: list[str], done: Done, tally: Tally) -> Iterator[tuple[int, str, int | None, Block]]:
    """(input number, name, length, block) of each block to tag, in input order, read as needed:
    an input's blocks done in OUT are skipped up to its first block that is not. A bad input is
    reported (say_error) and counted in tally.failed; the others are still read."""
    for number, name in enumerate(files):
        try:
            blocks, total = input_blocks(name)
            resumed = not done
            file = _file_of(doc_name(name)) if done else None
            for block in blocks:
                key = (file, block.start, block.text)
                if not resumed and done[key] > 0:
                    done[key] -= 1
                    tally.skipped += 1
                    continue
                resumed = True
                yield number, name, total, block
        except InputError as exc:  # a bad file before any block; stdin also after some
            say_error(exc.one_line())
            tally.failed += 1


def settings_of(
    *,
    models: Path,
    labels: str | None,
    schema: Path | None,
    index: str | None,
    only: list[str] | None,
    overrides: dict,
    profile: str | None = None,
) -> dict[str, str]:
    """What decides the labels, option by option: the models file in force and the schema by their
    content, an index folder by its manifest (which records its files' sha256) and the profile's tuning
    kept with it (`index tune`), the rest as given (the profile by name: its settings are in the models file)."""
    index_id = "none" if index is None else index
    if index not in (None, "default"):
        index_id = _content(Path(index) / "manifest.json")
        tuned = _tuning(Path(index), profile or DEFAULT_PROFILE)
        if tuned:  # (none: the index's id as before tunings existed, so older outputs still resume)
            index_id += f" tuned {tuned}"
    given = {
        "--models": _content(models),
        "--profile": profile or DEFAULT_PROFILE,
        "--labels": labels or "",
        "--schema": "" if schema is None else _content(schema),
        "--index": index_id,
        "--only": ",".join(only or ()),
        "--k": str(overrides.get("k", "")),
        "--no-verify": str(overrides.get("verify") is False),
    }
    if overrides.get("lexicon") is False:  # named only when given, so outputs from before the option resume
        given["--no-pool-names"] = "True"
    return given


def _tuning(index: Path, profile: str) -> str:
    from ..pipeline.tuned import resume_id

    try:
        return resume_id(index, profile)
    except UserError:  # unreadable: the tagger reports it when it loads
        return "unreadable"


def _content(path: Path) -> str:
    try:
        return sha256_file(path)
    except OSError:  # not there (an error for the tagger to report, when it loads): its path stands in
        return f"unreadable {os.path.realpath(path)}"


def _settings_path(output: Path) -> Path:
    real = Path(os.path.realpath(output))
    return real.with_name(f".{real.name}.tag.json")


def _earlier_settings(path: Path) -> dict[str, Any] | None:
    try:
        earlier = json.loads(path.read_bytes())
    except (OSError, ValueError):  # none kept (an output of an earlier version): nothing to compare
        return None
    # settings kept before --profile existed were [pipeline]'s, the default profile's
    return {"--profile": DEFAULT_PROFILE, **earlier} if isinstance(earlier, dict) else None


@dataclass
class Plan:
    todo: Iterator[tuple[int, str, int | None, Block]]  # the blocks left to tag (blocks_to_tag)
    tally: Tally
    mode: str  # to open the output in: "a" when resuming OUT.jsonl, else "w"


@contextmanager
def planned(files: list[str], output: Path | None, fmt: str, settings: dict[str, str]) -> Iterator[Plan]:
    """The run's plan, with OUT locked for the run: with -o OUT.jsonl the blocks OUT holds are skipped
    (their count said at the end of a run that did not fail) and OUT is appended to; other outputs are
    written anew. A resume with settings other than those OUT was tagged with is refused."""
    regular = output is not None and (output.is_file() or not output.exists())
    resume = regular and fmt == "jsonl"  # a device, a pipe or a folder is never read back
    lock = (
        FileLock(
            output, busy="being written by another `el4ner-local tag`", fix="wait until it ends, or give another -o"
        )
        if output is not None and (regular or output.is_dir())  # a dataset folder is locked too
        else nullcontext()
    )
    with lock:
        done: Done = Counter()
        kept: Path | None = None
        if resume:
            assert output is not None
            kept = _settings_path(output)
            earlier = _earlier_settings(kept)
            done = done_blocks(output)  # (cutting off a torn last line changes no record)
            if done and earlier is not None and earlier != settings:
                changed = ", ".join(key for key in settings if earlier.get(key) != settings[key]) or "the format"
                raise UserError(
                    f"{output}: tagged with other settings ({changed} differ); resuming would mix the two in one file",
                    fix=f"delete {output} to tag again with these settings, or give another -o",
                )
            if earlier != settings:  # a new OUT (or one kept before settings were): these are its settings
                with suppress(OSError):  # a folder we cannot add to: OUT is resumed unchecked
                    atomic_write(kept, (json.dumps(settings, indent=2) + "\n").encode("utf-8"))
        tally = Tally()
        try:
            yield Plan(blocks_to_tag(files, done, tally), tally, "a" if resume else "w")
        finally:
            if kept is not None and output is not None and not output.exists():  # the run made no OUT
                kept.unlink(missing_ok=True)
        if tally.skipped:
            say(f"{output}: {tally.skipped} block(s) already tagged, skipped")
