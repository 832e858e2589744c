"""Two lines at the bottom: the models' progress (loading, which sentence is being computed, how many
have suggestions) and whether every decision is on disk."""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.style import Style
from rich.text import Text
from textual.widget import Widget


@dataclass
class ModelStatus:
    state: str = "off"  # off | loading | ready | failed
    message: str = ""
    models: tuple[str, ...] = ()
    computing: int | None = None  # sentence index
    computing_for: float = 0.0  # seconds so far
    last_seconds: float | None = None
    index: str | None = None
    index_sentences: int = 0
    indexed_here: int = 0
    problems: list[str] = field(default_factory=list)


def _bar(done: int, total: int, width: int = 16) -> str:
    full = round(width * done / total) if total else 0
    return "█" * full + "░" * (width - full)


class StatusBar(Widget):
    DEFAULT_CSS = """
    StatusBar { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status = ModelStatus()
        self.suggested = 0
        self.total = 0
        self.out_name = ""
        self.save_error: str | None = None

    def show(self, status: ModelStatus, suggested: int, total: int, out_name: str, save_error: str | None) -> None:
        self.status, self.suggested, self.total = status, suggested, total
        self.out_name, self.save_error = out_name, save_error
        self.set_class(save_error is not None, "-unsaved")
        self.refresh(layout=True)

    def render(self) -> Text:
        st = self.status
        line = Text()
        if st.state == "off":
            line.append("models: off (suggestions saved earlier only)", Style(dim=True))
        elif st.state == "loading":
            line.append(f"models: {st.message or 'loading'}…", Style(color="#e5c07b"))
        elif st.state == "failed":
            line.append(f"models failed: {st.message}", Style(color="#e06c75", bold=True))
        else:
            line.append("models: ", Style(bold=True))
            line.append(", ".join(st.models))
        line.append(f"  suggestions {self.suggested}/{self.total} ")
        line.append(_bar(self.suggested, self.total), Style(color="#61afef"))
        if st.computing is not None:
            line.append(f"  computing sentence {st.computing + 1} ({st.computing_for:.0f} s)", Style(color="#e5c07b"))
        elif st.state == "ready":
            line.append("  idle", Style(dim=True))
        if st.index is not None:
            line.append(f"  index: {st.index_sentences} sentences", Style(dim=True))
            if st.indexed_here:
                line.append(f" (+{st.indexed_here} from here)", Style(dim=True))
        for problem in st.problems[-1:]:
            line.append(f"\n{problem}", Style(color="#e06c75"))
        line.append("\n")
        if self.save_error is not None:
            line.append(
                f"NOT SAVED: {self.save_error}. Every decision is kept in memory; "
                f"ctrl+s tries again, ctrl+o saves elsewhere.",
                Style(color="#ffffff", bgcolor="#be5046", bold=True),
            )
        else:
            line.append(f"✓ every decision is saved in {self.out_name}", Style(color="#98c379"))
        return line
