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
