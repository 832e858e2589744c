"""Every span of the sentence, the rejected ones too (so a person can bring one back): its state,
text, type, confidence and how many models extracted it. Click a row to focus it."""

from __future__ import annotations

from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from .annotation_state import AnnotationState, SpanState
from .colours import label_colour

MARKS = {  # (verdict, suggested) -> mark, meaning
    ("accepted", None): ("✓", "accepted by you"),
    ("rejected", None): ("✗", "rejected by you"),
    (None, True): ("?", "suggested by the models, not decided"),
    (None, False): ("·", "rejected by the models, not decided"),
}


def mark_of(span: SpanState) -> str:
    if span.verdict is not None:
        return MARKS[(span.verdict, None)][0]
    return MARKS[(None, span.suggested)][0]


class SpanList(Widget):
    class SpanClicked(Message):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state: AnnotationState | None = None

    def show(self, state: AnnotationState | None) -> None:
        self.state = state
        if state is not None:
            spans = state.current.spans
            self.border_title = f"spans ({len(spans)})"
            self.border_subtitle = "✓ yes ✗ no ? suggested · not ! unsure"
        self.refresh(layout=True)

    def render(self):
        state = self.state
        if state is None:
            return Text("")
        sent = state.current
        if not sent.spans:
            if sent.record is None:
                return Text("waiting for the models…", style="dim italic")
            return Text(
                "no spans: the models found none.\nSelect tokens (←/→, shift+→) and press s to add one.",
                style="dim italic",
            )
        n_models = len(state.model_names()) or None
        table = Table(box=None, show_header=False, expand=True, pad_edge=False, padding=(0, 1, 0, 0))
        table.add_column("mark", no_wrap=True, width=3)
        table.add_column("span", no_wrap=True, overflow="ellipsis", ratio=1, min_width=6)
        table.add_column("type", no_wrap=True, overflow="ellipsis", max_width=14)
        table.add_column("conf", no_wrap=True, justify="right")
        table.add_column("votes", no_wrap=True, justify="right")
        for i, span in enumerate(sent.spans):
            focused = i == state.focus
            meta = Style(meta={"span": i}) + (Style(reverse=True) if focused else Style())
            shown = state.text[span.start : span.end].replace("\n", " ")
            if span.changed:
                shown += " ↔"
            dim = span.verdict == "rejected" or (span.verdict is None and not span.suggested)
            cand = span.candidate
            if cand is not None:
                conf = f"{cand.confidence:.2f}"
                votes = f"{len(cand.extracted_by)}/{n_models}" if n_models else str(len(cand.extracted_by))
                if cand.lexicon and not cand.extracted_by:
                    votes = "pool"  # a name the pool knows that no model named (pipeline/lexicon.py)
            else:
                conf, votes = "", "you" if span.origin == "person" else ""
            unsure = state.is_uncertain(span)
            table.add_row(
                Text(
                    f"{'▶' if focused else ' '}{mark_of(span)}{'!' if unsure else ' '}", style=meta + Style(bold=True)
                ),
                Text(shown, style=meta + Style(strike=span.verdict == "rejected", dim=dim and not focused)),
                Text(span.label or "—", style=meta + Style(color=label_colour(span.label, state.labels))),
                Text(conf, style=meta + Style(dim=True)),
                Text(votes, style=meta + Style(dim=True)),
            )
        return table

    def on_click(self, event: events.Click) -> None:
        index = event.style.meta.get("span") if event.style else None
        if index is not None:
            event.stop()
            self.post_message(self.SpanClicked(int(index)))
