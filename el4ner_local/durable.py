"""Durable file writes shared by the index store, the annotator and the evaluation cache: once a call
returns, its bytes survive a crash or a power cut. A replaced file is either the old whole file or the
new whole file, never half of one. Files are created with `mode`, private (0600) unless a caller gives
another (private_files.py)."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from .private_files import PRIVATE_FILE, open_private


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` survive a power cut (best effort where the OS refuses)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    """Flush to disk a file that something else (e.g. hnswlib) wrote."""
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def write_durable(path: Path, data: bytes, mode: int = PRIVATE_FILE) -> None:
    """Write `path` (created, or truncated) with `data` and fsync it. Not atomic: for files no reader
    trusts until a later commit names them (the index store's `NAME.new`)."""
    with open_private(path, "wb", mode) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def append_durable(
    path: Path, data: bytes, mode: int = PRIVATE_FILE, *, truncate_to: int | None = None, own_line: bool = False
) -> None:
    """Append `data` to `path` (created with `mode` if missing) and fsync. With `truncate_to`, the file
    must exist and is first cut to that many bytes (dropping what an interrupted append left). With
    `own_line`, `data` starts on a new line when the file's last byte is not a newline (a torn line)."""
    with open_private(path, "ab", mode) if truncate_to is None else open(path, "rb+") as f:
        if truncate_to is not None:
            f.truncate(truncate_to)
            f.seek(truncate_to)
        if own_line and f.tell() and not _ends_with_newline(path):
            f.write(b"\n")
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def kept_narrow(path: Path, mode: int) -> int:
    """`mode` less the group/other bits that the file at `path`, where there is one, lacks."""
    try:
        old = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return mode
    return mode & ~(0o077 & ~old)


def atomic_write(path: Path, data: bytes, mode: int = PRIVATE_FILE, *, tmp: Path | None = None) -> None:
    """Replace `path` by `data` atomically: a temporary file in the same directory, fsync, rename.
    The file gets `mode` (private by default; private_files.mode_beside for an output beside an input).
    `tmp` names the temporary file (the index store's, which it knows as its own) instead of a fresh one.
    A file already at `path` is never widened: the group/other bits it lacks stay off (a user's chmod)."""
    mode = kept_narrow(path, mode)
    tmp_name: str | Path
    if tmp is None:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        f = os.fdopen(fd, "wb")
        if mode != PRIVATE_FILE:  # mkstemp made it 0600 whatever the umask; a failure leaves it so
            with contextlib.suppress(OSError):
                os.fchmod(f.fileno(), mode)
    else:
        tmp_name, f = tmp, open_private(tmp, "wb", mode)
    try:
        with f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
