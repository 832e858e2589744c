"""`el4ner-local tag` in one process: read each input, tag it block by block (blocks.py), write each
block's result as soon as it is done. A bad input file is reported and skipped; the others are still
tagged. With `-o OUT.jsonl` a rerun skips the blocks OUT already holds (resume.py), as `tag --ray` does.

Progress goes to stderr: a bar on a terminal; otherwise, for an input of more than one block, one line
per block done (so a log shows how far a long run got). Reading, progress and writing live in
tag_io.py, shared with `tag --ray` (ray_driver.py)."""

from __future__ import annotations

from functools import partial
from itertools import chain
from pathlib import Path
from typing import Any

from .resume import planned, settings_of
from .tag_io import InputProgress, close_output, doc_name, open_output, progress_bar, write_block


def run_tag(
    files: list[str],
    *,
    output: Path | None,
    fmt: str,
    labels: str | None,
    schema: Path | None,
    index: str | None,
    only: list[str] | None,
    models: Path | None,
    overrides: dict[str, Any],
    profile: str | None = None,
) -> int:
    from rich.console import Console

    from ..config import models_file
    from ..pipeline.tagger import Tagger

    settings = settings_of(
        models=models_file(models),
        labels=labels,
        schema=schema,
        index=index,
        only=only,
        overrides=overrides,
        profile=profile,
    )
    with planned(files, output, fmt, settings) as plan:
        first = next(plan.todo, None)
        if first is None:  # every block is already in OUT (or no input could be read)
            return plan.tally.failed
        tagger = Tagger.load(
            models=models, profile=profile, labels=labels, schema_file=schema, index=index, only=only, **overrides
        )
        if note := tagger.tuning_note():
            Console(stderr=True).print(note, markup=False, highlight=False)
        sink, table_console = open_output(output, plan.mode, inputs=files, fmt=fmt)
        try:
            current: int | None = None
            progress: InputProgress | None = None
            with progress_bar(Console(stderr=True)) as bar:
                for number, name, total, block in chain([first], plan.todo):
                    if number != current:
                        if progress:
                            progress.close()
                        current, progress = number, InputProgress(bar, "<stdin>" if name == "-" else name, total)
                    assert progress is not None  # made at the first block (number != None)
                    progress.block_starts(block)
                    doc = tagger.tag(
                        block.text,
                        name=doc_name(name),
                        progress=partial(progress.sentence, block),
                    )
                    write_block(doc, block.start, fmt, sink, table_console, output)
                if progress:
                    progress.close()
        finally:
            close_output(sink, output)
    return plan.tally.failed
