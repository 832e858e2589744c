"""`el4ner-local tag`: read each input, tag it block by block (blocks.py), write each block's result as
soon as it is done. A bad input file is reported and skipped; the others are still tagged.

Progress goes to stderr: a bar on a terminal; otherwise, for an input of more than one block, one line
per block done (so a log shows how far a long run got)."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Iterator

from . import output as out_formats
from .blocks import Block, iter_blocks, lines_of
from .errors import UserError


class InputError(UserError):
    """This input cannot be read: reported, and the other inputs are still tagged."""


def _stdin_lines() -> Iterator[str]:
    """Standard input's lines as they arrive (CRLF kept, so offsets index the bytes' text exactly)."""
    stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
    seen = 0
    try:
        for line in stream:
            seen += len(line)
            yield line
    except UnicodeDecodeError as exc:
        raise InputError(f"<stdin>: not UTF-8 text (after character {seen}, byte 0x{exc.object[exc.start:exc.start + 1].hex()})",
                        fix="convert it with iconv -t UTF-8") from None
    finally:
        stream.detach()  # leave sys.stdin.buffer open for whoever owns it
    if not seen:
        raise InputError("<stdin>:1: empty input, no text to tag", fix="pipe some text into it")


def _blocks(name: str) -> tuple[Iterator[Block], int | None]:
    """The input's blocks and its length in characters (None for standard input: not known yet)."""
    from .formats import read_text

    if name == "-":
        return iter_blocks(_stdin_lines()), None
    try:
        text = read_text(Path(name))  # checked whole first: a bad file is reported before any output
    except UserError as exc:
        raise InputError(exc.message, fix=exc.fix) from None
    return iter_blocks(lines_of(text)), len(text)


class _Progress:
    """A bar on a terminal; else a line per block done, from the second block on."""

    def __init__(self, bar, label: str, total: int | None):
        self.bar, self.label, self.total = bar, label, total
        self.task = bar.add_task(label, total=total)

    def sentence(self, block: Block, done: int, count: int) -> None:
        self.bar.update(self.task, completed=block.start + len(block.text) * done // max(count, 1))

    def block_starts(self, block: Block) -> None:
        if block.start and self.bar.disable:
            of = f" of {self.total} ({100 * block.start / self.total:.1f}%)" if self.total else ""
            print(f"el4ner-local: {self.label}: {block.start} characters tagged{of}", file=sys.stderr, flush=True)

    def close(self) -> None:
        self.bar.remove_task(self.task)


def run_tag(files, *, output, fmt, labels, schema, index, only, models, overrides, echo_error) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from .pipeline.tagger import Tagger

    tagger = Tagger.load(models=models, labels=labels, schema_file=schema, index=index, only=only, **overrides)
    try:
        sink = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    except OSError as exc:
        raise UserError(f"{output}: cannot write output ({exc.strerror})", fix="choose a writable path with -o")
    try:
        err_console = Console(stderr=True)
        table_console = Console(file=sink) if output else Console()
        failed = 0
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed} chars"),
                      TimeRemainingColumn(), console=err_console, transient=True,
                      disable=not err_console.is_terminal) as bar:
            for name in files:
                label = "<stdin>" if name == "-" else name
                try:
                    blocks, total = _blocks(name)
                    progress = _Progress(bar, label, total)
                    for block in blocks:
                        progress.block_starts(block)
                        doc = tagger.tag(block.text, name=name if name != "-" else "",
                                         progress=lambda done, count, b=block, p=progress: p.sentence(b, done, count))
                        _write(doc, block.start, fmt, sink, table_console, output)
                    progress.close()
                except InputError as exc:  # stdin can also turn bad after some blocks
                    echo_error(exc.one_line())
                    failed += 1
    finally:
        if output:
            try:
                sink.close()
            except OSError as exc:  # what the failed write left in the buffer fails again
                raise _cannot_write(output, exc) from None
    return failed


def _write(doc, start: int, fmt: str, sink, table_console, output) -> None:
    try:
        if fmt == "jsonl":
            out_formats.write_jsonl(doc, sink, start)
        elif fmt == "conll":
            out_formats.write_conll(doc, sink, start)
        else:
            out_formats.write_table(doc, table_console, start)
        sink.flush()
    except OSError as exc:
        raise _cannot_write(output, exc) from None


def _cannot_write(output, exc: OSError) -> UserError:
    return UserError(f"{output or '<stdout>'}: cannot write ({exc.strerror})", fix="free disk space or choose another -o")
