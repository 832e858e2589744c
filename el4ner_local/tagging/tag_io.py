"""What `tag` and `tag --ray` share: reading an input as blocks (blocks.py), the progress they show,
opening the output and writing one block's result (writers.py). Both drivers read and write through
these functions, so their outputs are the same byte for byte."""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from pathlib import Path

from ..errors import UserError
from . import writers
from .blocks import Block, iter_blocks, lines_of


class InputError(UserError):
    """This input cannot be read: reported, and the other inputs are still tagged."""


def doc_name(name: str) -> str:
    """The record's "name" of an input: its path, or "" for standard input."""
    return "" if name == "-" else name


def _stdin_lines() -> Iterator[str]:
    """Standard input's lines as they arrive, split at line feeds only, as lines_of splits a file (so
    the same text gives the same blocks); every carriage return is kept (so offsets index the text)."""
    stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="\n")
    seen = 0
    try:
        for line in stream:
            seen += len(line)
            yield line
    except UnicodeDecodeError as exc:
        raise InputError(
            f"<stdin>: not UTF-8 text (after character {seen}, byte 0x{exc.object[exc.start : exc.start + 1].hex()})",
            fix="convert it with iconv -t UTF-8",
        ) from None
    finally:
        stream.detach()  # leave sys.stdin.buffer open for whoever owns it
    if not seen:
        raise InputError("<stdin>:1: empty input, no text to tag", fix="pipe some text into it")


def input_blocks(name: str) -> tuple[Iterator[Block], int | None]:
    """The input's blocks and its length in characters (None for standard input: not known yet).
    A file is read and checked whole first (InputError before any block); standard input is read
    as it arrives and can raise InputError between blocks."""
    from ..formats import read_text

    if name == "-":
        return iter_blocks(_stdin_lines()), None
    try:
        text = read_text(Path(name))
    except UserError as exc:
        raise InputError(exc.message, fix=exc.fix) from None
    return iter_blocks(lines_of(text)), len(text)


def say(message: str) -> None:
    """One progress line on stderr (errors go through errors.say_error)."""
    print(f"el4ner-local: {message}", file=sys.stderr, flush=True)


def progress_bar(err_console):
    """The bar both paths show on a terminal (none otherwise)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} chars"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


class InputProgress:
    """One input's progress: a bar on a terminal; else a line per block done, from the second block on."""

    def __init__(self, bar, label: str, total: int | None):
        self.bar, self.label, self.total = bar, label, total
        self.task = bar.add_task(label, total=total)

    def sentence(self, block: Block, done: int, count: int) -> None:
        self.bar.update(self.task, completed=block.start + len(block.text) * done // max(count, 1))

    def block_starts(self, block: Block) -> None:
        if block.start and self.bar.disable:
            of = f" of {self.total} ({100 * block.start / self.total:.1f}%)" if self.total else ""
            say(f"{self.label}: {block.start} characters tagged{of}")

    def close(self) -> None:
        self.bar.remove_task(self.task)


def open_output(output: Path | None, mode: str = "w", inputs=(), fmt: str = "jsonl"):
    """The sink and the console for table output: the file -o names, or standard output; for a
    labelling tool's format, a writers.ToolOutput (no console). The file is no more readable than
    the `inputs` it is made from ("-" = standard input: private)."""
    from rich.console import Console

    from ..private_files import mode_beside, open_private

    if fmt in writers.FILE_FORMATS:  # written whole at close: nothing is opened yet
        return writers.ToolOutput(fmt, output, None, mode_beside(inputs)), None
    try:
        sink = open_private(output, mode, mode_beside(inputs), encoding="utf-8", newline="") if output else sys.stdout
    except OSError as exc:
        raise UserError(
            f"{output}: cannot write output ({exc.strerror})", fix="choose a writable path with -o"
        ) from None
    if fmt in writers.TOOL_FORMATS:
        return writers.ToolOutput(fmt, output, sink, mode_beside(inputs)), None
    return sink, Console(file=sink) if output else Console()


def close_output(sink, output: Path | None) -> None:
    if isinstance(sink, writers.ToolOutput):
        try:
            note = sink.close()
        except OSError as exc:
            raise cannot_write(output, exc) from None
        if note:
            say(note)
    elif output:
        try:
            sink.close()
        except OSError as exc:  # what the failed write left in the buffer fails again
            raise cannot_write(output, exc) from None


def write_block(doc, start: int, fmt: str, sink, table_console, output) -> None:
    """Write one block's result (`start`: the block's offset in its input) and flush it."""
    try:
        if fmt == "jsonl":
            writers.write_jsonl(doc, sink, start)
        elif fmt == "conll":
            lost = writers.write_conll(doc, sink, start)
            if lost:
                where = f"{doc.name or '<stdin>'}" + (f" from character {start}" if start else "")
                say(
                    f"{where}: {lost} entities left out of the CoNLL output: not on token boundaries "
                    "(el4ner-local's tokenizer), overlapping another, or across a sentence end"
                )
        elif fmt in writers.TOOL_FORMATS:
            sink.write(doc, start)
        else:
            writers.write_table(doc, table_console, start)
        sink.flush()
    except OSError as exc:
        raise cannot_write(output, exc) from None


def cannot_write(output, exc: OSError) -> UserError:
    return UserError(
        f"{output or '<stdout>'}: cannot write ({exc.strerror})", fix="free disk space or choose another -o"
    )
