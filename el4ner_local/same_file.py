"""Refuse an output that is one of the command's inputs, before anything is opened for writing.

An input can be named by another path than the output: relative against absolute, `./x`, a symlink
or a hard link. Where both exist, os.path.samefile decides (same device and inode); where the output
does not exist yet, it cannot be an existing input."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import UserError


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def _inside(path: Path, folder: Path) -> bool:
    """Whether `path` lies in `folder` (or is it), whatever names lead there."""
    try:
        real_folder = Path(os.path.realpath(folder))
        return Path(os.path.realpath(path)).is_relative_to(real_folder) or _same(path, folder)
    except OSError:
        return False


def refuse_input_as_output(
    output: str | Path | None,
    inputs: Iterable[str | Path | None],
    *,
    option: str,
    folders: Iterable[str | Path | None] = (),
) -> None:
    """A UserError naming both paths if `output` is one of `inputs` (files), or lies inside one of
    `folders` (input folders such as an index, whose files the output would replace). Standard
    input and output ("-") and absent options (None) are skipped."""
    if output is None or str(output) == "-":
        return
    out = Path(output)
    for given in inputs:
        if given is None or str(given) == "-":
            continue
        if _same(out, Path(given)):
            shown = f"{given}" if str(given) == str(output) else f"{given} (the same file as {output})"
            raise UserError(
                f"{option} {output}: is the input {shown}; writing there would destroy it",
                fix=f"give {option} another path",
            )
    for folder in folders:
        if folder is not None and Path(folder).is_dir() and _inside(out, Path(folder)):
            raise UserError(
                f"{option} {output}: lies inside the input {folder}; writing there would change it",
                fix=f"give {option} a path outside {folder}",
            )


def refuse_inputs_inside(folder: str | Path, inputs: Iterable[str | Path], *, option: str) -> None:
    """A UserError if an input file lies inside the output `folder` (an index directory whose files
    a build replaces or an add appends to)."""
    for given in inputs:
        if _inside(Path(given), Path(folder)):
            raise UserError(
                f"{option} {folder}: holds the input {given}; writing the index there could destroy it",
                fix=f"move {given} out of {folder}, or give {option} another folder",
            )
