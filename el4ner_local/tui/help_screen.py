"""Every command, its keys (after the user's remapping), the mouse and the colours."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from .keys import COMMANDS, GROUPS, key_display, keys_file


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "close", show=True)]

    def __init__(self, keys: dict[str, list[str]], labels: list[str]) -> None:
        super().__init__()
        self.keys = keys
        self.labels = labels

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box") as box:
            box.border_title = "el4ner-local annotate: keys"
            box.border_subtitle = "escape closes"
            yield Static(self._content(), id="help-text")

    def _content(self) -> Group:
        table = Table(box=None, show_header=False, expand=True, pad_edge=False)
        table.add_column("keys", no_wrap=True, width=20, style="bold #61afef")
        table.add_column("what", ratio=1)
        for group, title in GROUPS.items():
            table.add_row(Text(title, style="bold underline"), "")
            cmds = [c for c in COMMANDS if c.group == group]
            if group == "decide":  # the nine type keys on one line
                cmds = [c for c in cmds if not c.id.startswith("label_")]
                numbers = [k for n in range(1, 10) for k in self.keys[f"label_{n}"][:1]]
                names = ", ".join(f"{n} {lab}" for n, lab in enumerate(self.labels[:9], 1)) or "the types in order"
                table.add_row(
                    " ".join(key_display(k) for k in numbers),
                    f"give the focused span (or the selection) that type: {names}",
                )
            for cmd in cmds:
                table.add_row(", ".join(key_display(k) for k in self.keys[cmd.id]), cmd.help)
            table.add_row("", "")
        parts: list[RenderableType] = [table]
        parts.append(
            Text.assemble(
                ("Mouse  ", "bold"),
                "click a span to focus it, a token to select it, shift-click to extend "
                "the selection; click a row of the span list, a type in the legend, or a key in the footer.",
            )
        )
        parts.append(
            Text.assemble(
                ("Colours  ", "bold"),
                "filled: accepted by you; underlined: suggested by the models; "
                "dim underline: a candidate the models rejected; struck through: rejected by you.",
            )
        )
        parts.append(
            Text.assemble(
                ("Remap keys  ", "bold"),
                f"in {keys_file()} ($EL4NER_KEYS), e.g.\n",
                ('[keys]\naccept = "a,enter"\nreject = "d"', "italic"),
            )
        )
        return Group(*parts)

    def action_close(self) -> None:
        self.dismiss(None)
