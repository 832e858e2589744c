"""The entity types with their number keys and colours (the legend); click one to give the focused
span that type."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from .colours import label_colour


class LabelBar(Widget):
    DEFAULT_CSS = """
    LabelBar { height: auto; }
    """

    class LabelClicked(Message):
        def __init__(self, number: int) -> None:
            super().__init__()
            self.number = number

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.labels: list[str] = []

    def show(self, labels: list[str]) -> None:
        self.labels = list(labels)
        self.refresh(layout=True)

    def render(self) -> Text:
        if not self.labels:
            return Text("types: waiting for the models to load…", style="dim italic")
        out = Text("types ", style="bold")
        for n, label in enumerate(self.labels, 1):
            colour = label_colour(label, self.labels)
            key = str(n) if n <= 9 else " "
            out.append_text(
                Text.assemble(
                    (f" {key} ", Style(color="#000000", bgcolor=colour, bold=True)),
                    (f" {label}  ", Style(color=colour)),
                    style=Style(meta={"label": n}),
                )
            )
        return out

    def on_click(self, event: events.Click) -> None:
        number = event.style.meta.get("label") if event.style else None
        if number is not None:
            event.stop()
            self.post_message(self.LabelClicked(int(number)))
