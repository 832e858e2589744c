"""One process at a time on a file: a non-blocking exclusive lock, held for as long as a session
uses the file, that a second process is refused in one line naming the holder.

The lock is an fcntl `flock` on a lock file beside the target, `.NAME.lock` in the same folder,
holding the holder's PID and command line. The kernel drops a flock when its holder dies, even by
SIGKILL, so a lock file left by a killed process is stale and simply taken over (rewritten with the
new holder's PID); a lock released normally removes its file. Taking the lock checks that the file
it locked is still the one at the path (a holder may have removed it meanwhile), so two processes
never both hold it.

Where no lock file can be made (a read-only or missing folder, a system without fcntl) the target
is used without a lock: nothing can be written there by this process either.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path

from .errors import UserError

_NO_PLACE = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR}


def lock_path_for(target: str | Path) -> Path:
    """The lock file of `target`: `.NAME.lock` beside it (symbolic links resolved, so every name of
    one file shares one lock)."""
    real = Path(os.path.realpath(Path(target).expanduser()))
    return real.with_name(f".{real.name}.lock")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _command_line(pid: int, recorded: str) -> str:
    """The holder's command line: /proc/PID/cmdline where readable, else what it wrote in the lock file."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        args = [a.decode("utf-8", "replace") for a in raw.split(b"\0") if a]
        text = " ".join(args) if args else recorded
    except OSError:
        text = recorded
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:199] + "…"


class FileLock:
    """An exclusive lock on `target` for this process: `acquire()` or a UserError naming the holder.

        with FileLock(path, busy="open in another session", fix="quit that session first"):
            ...  # only this process uses `path`

    `busy` and `fix` word the refusal: "PATH: BUSY (process PID: COMMAND) (fix: FIX)"."""

    def __init__(
        self, target: str | Path, *, busy: str = "in use by another process", fix: str = "wait until that process ends"
    ):
        self.target = Path(target)
        self.path = lock_path_for(self.target)
        self.busy = busy
        self.fix = fix
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def covers(self, target: str | Path) -> bool:
        """Whether `target` is the file this lock is for (same lock file)."""
        return lock_path_for(target) == self.path

    def acquire(self) -> FileLock:
        """Take the lock now, without waiting. UserError (one line, naming the holder's PID and command
        line) when another process holds it. A writer makes the target's folder first: a missing
        folder has nothing to lock."""
        if self._fd is not None:
            return self
        try:
            import fcntl
        except ImportError:  # not POSIX: no locking
            return self
        for _ in range(100):  # another round only when a holder removed the file meanwhile
            fd = self._open()
            if fd is None:
                return self
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise UserError(
                        f"{self.target}: cannot lock {self.path} ({exc.strerror})",
                        fix="use a local folder, or another path",
                    ) from None
                refusal = self._refusal(fd)
                os.close(fd)
                raise refusal from None
            if self._is_at_path(fd):
                self._fd = fd
                self._record(fd)
                return self
            os.close(fd)  # we locked a file its holder had just removed: take the new one
        raise UserError(f"{self.target}: its lock file {self.path} keeps changing", fix="try again")

    def release(self) -> None:
        """Give the lock back and remove its file (idempotent)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if self._is_at_path(fd):
                os.unlink(self.path)  # while still held: a process that opened it meanwhile sees it gone
        except OSError:
            pass
        finally:
            os.close(fd)  # closing releases the flock

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    # -- inside ---------------------------------------------------------------------------------

    def _open(self) -> int | None:
        flags = os.O_CREAT | os.O_RDWR | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            return os.open(self.path, flags, 0o600)
        except OSError as exc:
            if not self.path.exists() and exc.errno in _NO_PLACE:
                return None  # no lock file can be made here: nothing can be written here either
            first = exc
        try:  # there, but not ours to write (another user's): a read-only descriptor locks as well
            return os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            raise UserError(
                f"{self.target}: cannot open its lock file {self.path} ({first.strerror})",
                fix="check who owns it: another user's session may hold it",
            ) from None

    def _is_at_path(self, fd: int) -> bool:
        try:
            here, there = os.fstat(fd), os.stat(self.path, follow_symlinks=False)
        except OSError:
            return False
        return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)

    def _record(self, fd: int) -> None:
        """Our PID and command line in the lock file (a killed holder's stale ones are replaced)."""
        data = f"{os.getpid()}\n{' '.join(sys.argv)}\n".encode("utf-8", "replace")
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, data, 0)
        except OSError:  # a read-only descriptor: the lock holds all the same
            pass

    def _read_holder(self, fd: int) -> tuple[int | None, str]:
        try:
            lines = os.pread(fd, 8192, 0).decode("utf-8", "replace").split("\n")
            return int(lines[0]), lines[1] if len(lines) > 1 else ""
        except (OSError, ValueError):
            return None, ""

    def _refusal(self, fd: int) -> UserError:
        # a holder that has just taken the lock writes its PID a moment later; until then the file is
        # empty or still names a killed earlier holder: look again for a short while
        pid, recorded = self._read_holder(fd)
        for _ in range(20):
            if pid is not None and _alive(pid):
                break
            time.sleep(0.05)
            pid, recorded = self._read_holder(fd)
        if pid is None or not _alive(pid):
            holder = "a process that did not record its PID"
        elif pid == os.getpid():
            holder = f"process {pid}, this one"
        else:
            holder = f"process {pid}: {_command_line(pid, recorded)}"
        return UserError(f"{self.target}: {self.busy} ({holder})", fix=self.fix)
