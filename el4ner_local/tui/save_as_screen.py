"""Ask for another annotations path (after a failed save, or to move the session)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class SaveAsScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "cancel", show=True)]

    def __init__(self, current: str, reason: str | None = None) -> None:
        super().__init__()
        self.current = current
        self.reason = reason

    def compose(self) -> ComposeResult:
        with Vertical(id="save-as-box") as box:
            box.border_title = "save the annotations as"
            if self.reason:
                yield Static(self.reason, id="save-as-reason")
            yield Static("New path of the annotations file (enter saves, escape cancels):")
            yield Input(value=self.current, id="save-as-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        self.dismiss(value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
