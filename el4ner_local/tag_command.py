"""`el4ner-local tag`: read each input, tag it block by block (blocks.py), write each block's result as
soon as it is done. A bad input file is reported and skipped; the others are still tagged.

Progress goes to stderr: a bar on a terminal; otherwise, for an input of more than one block, one line
per block done (so a log shows how far a long run got). Reading, progress and writing live in
tag_io.py, shared with `tag --ray` (ray_tag.py)."""

from __future__ import annotations

from .tag_io import InputError, InputProgress, close_output, doc_name, input_blocks, open_output, progress_bar, write_block


def run_tag(files, *, output, fmt, labels, schema, index, only, models, overrides, echo_error) -> int:
    from rich.console import Console

    from .pipeline.tagger import Tagger

    tagger = Tagger.load(models=models, labels=labels, schema_file=schema, index=index, only=only, **overrides)
    sink, table_console = open_output(output)
    try:
        failed = 0
        with progress_bar(Console(stderr=True)) as bar:
            for name in files:
                label = "<stdin>" if name == "-" else name
                try:
                    blocks, total = input_blocks(name)
                    progress = InputProgress(bar, label, total)
                    for block in blocks:
                        progress.block_starts(block)
                        doc = tagger.tag(block.text, name=doc_name(name),
                                         progress=lambda done, count, b=block, p=progress: p.sentence(b, done, count))
                        write_block(doc, block.start, fmt, sink, table_console, output)
                    progress.close()
                except InputError as exc:  # stdin can also turn bad after some blocks
                    echo_error(exc.one_line())
                    failed += 1
    finally:
        close_output(sink, output)
    return failed
