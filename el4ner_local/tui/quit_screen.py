"""Asked on quitting while some decisions are not on disk (full disk, read-only path)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class QuitScreen(ModalScreen[str]):
    """Dismissed with "retry", "save_as", "quit" or "stay"."""

    BINDINGS = [
        Binding("r", "choose('retry')", "try saving again", show=True),
        Binding("o", "choose('save_as')", "save elsewhere", show=True),
        Binding("Q", "choose('quit')", "quit, losing them", show=True),
        Binding("escape", "choose('stay')", "stay", show=True),
    ]

    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box") as box:
            box.border_title = "decisions not saved"
            yield Static(
                Text.assemble(
                    ("Some decisions are only in memory: ", "bold"),
                    self.error,
                    "\n\n",
                    ("r", "bold #61afef"),
                    "  try saving again\n",
                    ("o", "bold #61afef"),
                    "  save them under another path\n",
                    ("Q", "bold #61afef"),
                    "  (shift+q) quit and lose them\n",
                    ("escape", "bold #61afef"),
                    "  go back",
                )
            )

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
