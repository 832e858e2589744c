"""`el4ner-local tag`: read each input, tag it, write each result as soon as it is done.
A bad input file is reported and skipped; the others are still tagged."""

from __future__ import annotations

import sys
from pathlib import Path

from . import output as out_formats
from .errors import UserError


def _read_input(name: str) -> str:
    from .formats import read_text

    if name == "-":
        data = sys.stdin.buffer.read()
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise UserError(f"<stdin>: not UTF-8 text (byte {exc.start})", fix="convert it with iconv -t UTF-8")
    return read_text(Path(name))


def run_tag(files, *, output, fmt, labels, schema, index, only, models, overrides, echo_error) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .pipeline.tagger import Tagger

    tagger = Tagger.load(models=models, labels=labels, schema_file=schema, index=index, only=only, **overrides)
    try:
        sink = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    except OSError as exc:
        raise UserError(f"{output}: cannot write output ({exc.strerror})", fix="choose a writable path with -o")
    try:
        err_console = Console(stderr=True)
        failed = 0
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
            for name in files:
                try:
                    text = _read_input(name)
                except UserError as exc:
                    echo_error(exc.one_line())
                    failed += 1
                    continue
                task = bar.add_task(Path(name).name if name != "-" else "<stdin>", total=None)
                doc = tagger.tag(text, name=name if name != "-" else "",
                                 progress=lambda done, total: bar.update(task, completed=done, total=total))
                bar.remove_task(task)
                try:
                    if fmt == "jsonl":
                        out_formats.write_jsonl(doc, sink)
                    elif fmt == "conll":
                        out_formats.write_conll(doc, sink)
                    else:
                        out_formats.write_table(doc, Console(file=sink) if output else Console())
                    sink.flush()
                except OSError as exc:
                    raise UserError(f"{output or '<stdout>'}: cannot write ({exc.strerror})", fix="free disk space or choose another -o")
    finally:
        if output:
            sink.close()
    return failed
