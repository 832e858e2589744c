"""User-facing errors: one line that names the file, the place and the fix."""


class UserError(Exception):
    """A mistake the user can fix. The CLI prints it as one line and exits non-zero."""

    exit_code = 2

    def __init__(self, message: str, *, fix: str | None = None):
        self.message = message
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = self.message if not self.fix else f"{self.message} (fix: {self.fix})"
        return " ".join(text.split())


_OS_FIXES: dict[int | None, str] = {  # by errno, which an OSError may lack (None)
    13: "check its permissions",
    1: "check its permissions",
    28: "free disk space",
    30: "choose a writable place",
    2: "check the path",
    21: "name a file, not a directory",
}


def from_os_error(exc: OSError) -> UserError:
    """A file problem that no command caught itself (a permission, a full disk): still one line."""
    where = f"{exc.filename}: " if exc.filename else ""
    return UserError(f"{where}{exc.strerror or exc}", fix=_OS_FIXES.get(exc.errno, "check the file and its place"))


def say_error(message: str) -> None:
    """One error line on stderr, as every command prints a UserError's one_line()."""
    import sys

    print(f"el4ner-local: error: {message}", file=sys.stderr, flush=True)


def says_interrupted(command):
    """Ctrl-C in a long command: one line and exit status 130 (Typer alone would exit 130 silently)."""
    import functools
    import sys

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            say_error("interrupted")
            sys.exit(130)

    return run
