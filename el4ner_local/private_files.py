"""File modes for the user's text, whatever the umask (SECURITY.md, "Who can read the files").

- What el4ner-local keeps for itself (the cache, an index, the annotator's session folder) is
  private: folders 0700, files 0600.
- An output written for the user (tag -o, the annotations file, an export) is readable by no one
  the input is not readable by: the owner reads and writes it; each group/other bit is set only
  when every input and the umask both allow it; from standard input (or an input that cannot be
  stat-ed) it is 0600.

Existing files are only ever narrowed (group/other bits taken away), never widened; folders that
were there already are only tightened when they are our own (a caller names them).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def current_umask() -> int:
    # the only portable way to read it is to set it; 0o077 meanwhile can only make a concurrent
    # creation in another thread narrower, never wider
    old = os.umask(0o077)
    os.umask(old)
    return old


def private_dir(path: str | Path, *, ours_from: str | Path | None = None) -> Path:
    """`mkdir -p path`, every folder it creates 0700. A folder that was already there keeps its mode,
    unless it is `ours_from` or below it on the way to `path` (folders of ours, e.g. the cache root):
    those lose their group/other bits. Folders above `ours_from` are never touched."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR)
        except FileExistsError:  # made meanwhile by someone else: not ours to change
            continue
        os.chmod(folder, PRIVATE_DIR)  # the umask may have taken owner bits
    if not path.is_dir():
        raise NotADirectoryError(f"{path}: not a directory")
    if ours_from is not None:
        top = Path(ours_from)
        if not path.is_relative_to(top):
            raise ValueError(f"{path} is not inside {top}")
        for folder in (path, *path.parents):
            narrow(folder, PRIVATE_DIR)
            if folder == top:
                break
    return path


def narrow(fd_or_path: int | str | Path, perms: int = PRIVATE_FILE) -> None:
    """Take from an existing file or folder the group/other bits that `perms` lacks; never adds one.
    Pipes and devices are left alone; best effort where the OS refuses (not ours, no Unix modes)."""
    try:
        st = os.fstat(fd_or_path) if isinstance(fd_or_path, int) else os.stat(fd_or_path)
        extra = stat.S_IMODE(st.st_mode) & 0o077 & ~perms
        if extra and (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            new = stat.S_IMODE(st.st_mode) & ~extra
            if isinstance(fd_or_path, int):
                os.fchmod(fd_or_path, new)
            else:
                os.chmod(fd_or_path, new)
    except OSError:
        pass


def open_private(path: str | Path, mode: str = "wb", perms: int = PRIVATE_FILE, **kwargs):
    """`open(path, mode, **kwargs)` for writing: a new file gets exactly `perms`, an existing one loses
    the group/other bits `perms` lacks."""

    def opener(name, flags):
        return os.open(name, flags, perms)

    new = not os.path.lexists(path)
    f = open(path, mode, opener=opener, **kwargs)
    if new:
        try:
            os.fchmod(f.fileno(), perms)  # made by us: exactly `perms`, whatever the umask took
        except OSError:
            pass
    else:
        narrow(f.fileno(), perms)
    return f


def mode_beside(inputs: Iterable[str | Path]) -> int:
    """The mode of an output made from `inputs` ("-" = standard input): owner read/write, and a
    group/other bit only when every input has it and the umask allows it."""
    inputs = list(inputs)
    if not inputs:
        return PRIVATE_FILE
    shared = 0o066 & ~current_umask()
    for name in inputs:
        if str(name) == "-":
            return PRIVATE_FILE
        try:
            shared &= stat.S_IMODE(os.stat(name).st_mode)
        except OSError:
            return PRIVATE_FILE
    return PRIVATE_FILE | shared
