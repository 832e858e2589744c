"""A full-screen message for a problem that stops the annotator (an input it cannot read)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static


class MessageScreen(Screen[None]):
    BINDINGS = [Binding("q,escape,enter", "app.quit", "quit", show=True)]

    def __init__(self, title: str, message: str, fix: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.fix = fix

    def compose(self) -> ComposeResult:
        with Vertical(id="message-box") as box:
            box.border_title = self.title_text
            text = Text(self.message, style="bold")
            if self.fix:
                text.append(f"\n\nfix: {self.fix}", style="")
            text.append("\n\nNothing was written. Press q to quit.", style="dim")
            yield Static(text, id="message-text")
        yield Footer()
