"""The sentence in view, its spans highlighted in their type's colour, the focused span standing out,
the neighbouring sentences dimmed around it for context. Clicking a token selects it; shift-click
extends the selection; clicking a span focuses it."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from .annotation_state import ACCEPTED, AnnotationState, SpanState
from .colours import label_colour

CONTEXT_CHARS = 160


class SentenceView(Widget):
    class TokenClicked(Message):
        def __init__(self, token: int, shift: bool) -> None:
            super().__init__()
            self.token = token
            self.shift = shift

    DEFAULT_CSS = """
    SentenceView { height: auto; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state: AnnotationState | None = None
        self.selection: tuple[int, int] | None = None  # token indexes, inclusive, ordered

    def show(self, state: AnnotationState | None, selection: tuple[int, int] | None) -> None:
        self.state = state
        self.selection = selection
        if state is not None:
            sent = state.current
            self.border_title = f"sentence {sent.index + 1} of {len(state.sentences)} · {sent.status}"
            counts = state.counts()
            self.border_subtitle = f"{counts[ACCEPTED]} accepted · {counts['in progress']} in progress"
        self.refresh(layout=True)

    def render(self) -> Text:
        state = self.state
        if state is None:
            return Text("opening…", style="dim")
        sent = state.current
        out = Text()
        if sent.index > 0:
            prev = state.sentences[sent.index - 1].text
            out.append(("…" + prev[-CONTEXT_CHARS:]) if len(prev) > CONTEXT_CHARS else prev, style="dim italic")
            out.append("\n\n")
        out.append_text(self._sentence_text(state))
        if sent.index + 1 < len(state.sentences):
            nxt = state.sentences[sent.index + 1].text
            out.append("\n\n")
            out.append((nxt[:CONTEXT_CHARS] + "…") if len(nxt) > CONTEXT_CHARS else nxt, style="dim italic")
        return out

    def _span_style(self, span: SpanState, labels: list[str], focused: bool) -> Style:
        colour = label_colour(span.label, labels)
        if span.is_entity:
            style = (
                Style(color="#000000", bgcolor=colour, bold=True)
                if span.verdict == "accepted"
                else Style(color=colour, bold=True, underline=True)
            )
        elif span.verdict == "rejected":
            style = Style(color="#7f848e", strike=True)
        else:  # a candidate the ensemble rejected, not decided yet
            style = Style(color="#9da5b4", underline=True, dim=True)
        if focused:
            style += Style(reverse=True, bold=True)
        return style

    def _sentence_text(self, state: AnnotationState) -> Text:
        sent = state.current
        text = state.text
        labels = state.labels
        focused = state.focused()
        # which span paints each character: the focused one, then entities, then the others
        order = sorted(sent.spans, key=lambda s: (s is focused, s.is_entity, s.verdict != "rejected"))
        painter: dict[int, SpanState] = {}
        for span in order:
            for p in range(span.start, span.end):
                painter[p] = span
        token_at: dict[int, int] = {}
        for i, (s, e) in enumerate(sent.tokens):
            for p in range(s, e):
                token_at[p] = i
        sel = None
        if self.selection is not None:
            a, b = self.selection
            sel = (sent.tokens[a][0], sent.tokens[b][1])
        ends = {s.end: s for s in sorted(sent.spans, key=lambda s: s.start) if s.is_entity}
        out = Text()
        for p in range(sent.start, sent.end):
            style = Style()
            painted = painter.get(p)
            if painted is not None:
                style = self._span_style(painted, labels, painted is focused)
            if sel is not None and sel[0] <= p < sel[1]:
                style = Style(color="#000000", bgcolor="#87afff", bold=True)
            if p in token_at:
                style += Style(meta={"token": token_at[p]})
            out.append(text[p], style)
            tag = ends.get(p + 1)
            if tag is not None and tag.label:
                out.append(f"[{tag.label}]", Style(color=label_colour(tag.label, labels), italic=True, dim=True))
        return out

    def on_click(self, event: events.Click) -> None:
        token = event.style.meta.get("token") if event.style else None
        if token is not None:
            event.stop()
            self.post_message(self.TokenClicked(int(token), bool(event.shift)))
