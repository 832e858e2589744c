"""The evidence for the focused span: each model's extraction vote, the type it wrote, its type vote
(classification), each verifier's answer, the ensemble's decision and confidence, and the person's."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual.widget import Widget

from ..pipeline.lexicon import NOT_A_NAME
from .annotation_state import AnnotationState, SpanState
from .colours import label_colour


def _answer_lines(answer: str, limit: int = 2) -> str:
    lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
    shown = "; ".join(lines[:limit])
    return shown + (f" (+{len(lines) - limit} lines)" if len(lines) > limit else "") if lines else "(nothing)"


class VotesPanel(Widget):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state: AnnotationState | None = None
        self.selection_text: str | None = None
        self.models: tuple[str, ...] = ()  # the loaded ensemble, when known

    def show(self, state: AnnotationState | None, selection_text: str | None, models: tuple[str, ...] = ()) -> None:
        self.state = state
        self.selection_text = selection_text
        self.models = models
        span = state.focused() if state is not None else None
        if selection_text is not None:
            self.border_title = "new span"
        elif state is not None and span is not None:
            self.border_title = f"votes: “{state.text[span.start : span.end]}”"
        else:
            self.border_title = "votes"
        self.refresh(layout=True)

    def _model_names(self, state: AnnotationState) -> list[str]:
        names = list(state.model_names())
        for name in self.models:
            if name not in names:
                names.append(name)
        return names

    def render(self):
        state = self.state
        if state is None:
            return Text("")
        sent = state.current
        span = state.focused()
        if self.selection_text is not None:
            label = state.labels[0] if state.labels else "a type"
            return Text.assemble(
                ("selected: ", "bold"),
                (f"“{self.selection_text}”", "bold"),
                f"\npress s to add it as {label}, or a number key 1–9 for another type; escape drops it",
                style="",
            )
        if span is None:
            if sent.record is None:
                names = ", ".join(self._model_names(state)) or "the models"
                return Text(f"waiting for the suggestions of {names} for this sentence…", style="dim italic")
            lines = [Text("no span focused. What each model answered (extraction):", style="bold")]
            for name, answer in sent.record.raw.get("extraction", {}).items():
                lines.append(Text.assemble((f"{name}: ", "bold"), _answer_lines(answer)))
            return Group(*lines)
        return self._span_votes(state, span)

    def _span_votes(self, state: AnnotationState, span: SpanState):
        labels = state.labels
        cand = span.candidate
        parts: list[RenderableType] = []
        head = Text.assemble(
            (f"“{state.text[span.start : span.end]}”", "bold"), (f"  characters {span.start}–{span.end}", "dim")
        )
        if span.changed and cand is not None:
            head.append(f"  (resized by you from “{cand.text}”)", Style(italic=True))
        parts.append(head)
        if cand is None:
            parts.append(Text("added by you: the models did not name this span.", style="italic"))
        else:
            table = Table(expand=True, box=None, pad_edge=False, show_edge=False, header_style="bold")
            table.add_column("model", no_wrap=True)
            table.add_column("extracted", no_wrap=True)
            table.add_column("type vote", no_wrap=True)
            table.add_column("verifier", no_wrap=True)
            votes = cand.type_votes()
            for name in self._model_names(state):
                if name in cand.extracted_by:
                    written = cand.extracted_types.get(name) or ""
                    zero_shot = name in getattr(cand, "zero_shot_only", ())
                    extracted = Text.assemble(
                        ("yes", "green"),
                        (f" ({written})" if written else "", "dim"),
                        (" zero-shot" if zero_shot else "", "dim italic"),
                    )
                else:
                    extracted = Text("no", style="red")
                vote = votes.get(name)
                if vote is None:
                    type_vote = Text("—", style="dim")
                else:
                    p = cand.type_probs[name].get(vote, 0.0)
                    type_vote = Text.assemble(
                        (vote, label_colour(vote, labels) if vote != "none" else "red"), (f" {p:.2f}", "dim")
                    )
                if name in cand.verification:
                    p_yes = cand.verification[name]
                    verifier = Text.assemble(
                        ("yes" if p_yes >= 0.5 else "no", "green" if p_yes >= 0.5 else "red"), (f" {p_yes:.2f}", "dim")
                    )
                else:
                    verifier = Text("—", style="dim")
                table.add_row(name, extracted, type_vote, verifier)
            parts.append(table)
            if not cand.type_probs:
                parts.append(Text("type vote —: the classification stage did not run for this span", style="dim"))
            if not cand.verification:
                parts.append(Text("verifier —: the verification stage did not run for this span", style="dim"))
            if cand.lexicon == NOT_A_NAME:  # pipeline/lexicon.py: rejected where the rule filters them
                parts.append(Text.assemble(("pool: ", "bold"), "your labelled pool leaves these words unlabelled"))
            elif cand.lexicon:  # pipeline/lexicon.py: accepted after the vote where no accepted span overlaps it
                parts.append(
                    Text.assemble(
                        ("pool: ", "bold"),
                        "your labelled pool names these words ",
                        (cand.lexicon, label_colour(cand.lexicon, labels)),
                        "" if cand.extracted_by else " (no model named them)",
                    )
                )
            if cand.accepted:
                decision = Text.assemble(
                    ("ensemble: ", "bold"),
                    ("accepted", "green"),
                    " as ",
                    (cand.label or "?", label_colour(cand.label, labels)),
                    f", confidence {cand.confidence:.2f}",
                )
            else:
                decision = Text.assemble(
                    ("ensemble: ", "bold"),
                    ("rejected", "red"),
                    f" ({cand.reason})" if cand.reason else "",
                    f", confidence {cand.confidence:.2f}",
                )
            parts.append(decision)
        if span.verdict == "accepted":
            mine = Text.assemble(
                ("you: ", "bold"), ("accepted", "green"), " as ", (span.label or "?", label_colour(span.label, labels))
            )
        elif span.verdict == "rejected":
            mine = Text.assemble(("you: ", "bold"), ("rejected", "red"))
        else:
            mine = Text.assemble(("you: ", "bold"), ("not decided yet", "dim italic"))
        parts.append(mine)
        if state.is_uncertain(span):
            parts.append(Text("! the ensemble is unsure about this span", style="#e5c07b"))
        return Group(*parts)
