"""Prompt wording (package data in prompts/*.txt). Layout for the KV cache: the instructions
(the same for every sentence and stage, so evaluated once per model and then served from the
cache), then the demonstrations and the sentence; a stage's own question, if any, comes last.
Extraction needs no question: the demonstrations' `Sentence:`/`Entities:` pattern asks it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from importlib.resources import files

from ..documents import LabelledSentence, Span
from ..llm.backend import Prompt
from ..schema import Schema

EXTRACT_PREFILL = "Entities:\n"
VERIFY_PREFILL = "Answer:"
STOP = ("\n\n", "Sentence:", "Task:")


def classify_prefill(span: str) -> str:
    """Stage 3 continues the extraction answer with `span |`; the next word is the type."""
    return f"{EXTRACT_PREFILL}{_one_line(span)} |"


@cache
def template(name: str) -> str:
    return files(__package__).joinpath("prompts", f"{name}.txt").read_text(encoding="utf-8")


def _one_line(text: str) -> str:
    return " ".join(text.split())  # CRLF, tabs and newlines would break the line-based layout


def demo_window(demo: LabelledSentence, max_words: int = 0) -> tuple[str, list[Span]]:
    """A demonstration cut to a window of about `max_words` words, and the entities inside it.
    The window holds as many whole entities as fit (the first such group when several do), centred,
    "..." marking a cut; entities outside it are not shown, so the demonstration stays true. The
    words far from an entity teach little and each costs tokens for every model. 0 = the whole sentence."""
    toks = demo.tokens
    if max_words <= 0 or len(toks) <= max_words:
        return _one_line(demo.text), list(demo.spans)
    places = sorted(
        (
            next(i for i, (s, e) in enumerate(toks) if e > sp.start),
            max(i for i, (s, e) in enumerate(toks) if s < sp.end),
        )
        for sp in demo.spans
    )
    width = max([max_words, *(last - first + 1 for first, last in places)])
    lo, hi = 0, max_words
    if places:
        first, last = _largest_group(places, width)
        lo = max(min(first - (width - (last - first + 1)) // 2, len(toks) - width), 0)
        hi = lo + width
    start, end = toks[lo][0], toks[hi - 1][1]
    text = _one_line(demo.text[start:end])
    shown = [sp for sp in demo.spans if start <= sp.start and sp.end <= end]
    return ("... " if lo > 0 else "") + text + (" ..." if hi < len(toks) else ""), shown


def _largest_group(places: list[tuple[int, int]], width: int) -> tuple[int, int]:
    """(first, last) token of the run of consecutive entities (sorted token ranges) that fits in
    `width` tokens and holds the most of them; the earliest such run on ties."""
    best, best_n = places[0], 0
    for i, (first, _) in enumerate(places):
        last, n = first, 0
        for _, end in places[i:]:
            if max(last, end) - first >= width:
                break
            last, n = max(last, end), n + 1
        if n > best_n:
            best, best_n = (first, last), n
    return best


class PromptBook:
    def __init__(self, schema: Schema):
        self.schema = schema
        self.system = template("system").format(schema=schema.describe()).strip()

    def shared(self, sentence: str, demonstrations: Sequence[LabelledSentence] = (), demo_words: int = 0) -> str:
        parts = []
        for demo in demonstrations:
            text, spans = demo_window(demo, demo_words)
            lines = [f"{_one_line(s.text_in(demo.text))} | {s.label}" for s in spans] or ["none"]
            parts.append(template("demonstration").format(sentence=text, entities="\n".join(lines)))
        parts.append(template("sentence").format(sentence=_one_line(sentence)))
        return "".join(parts)

    def extract(self, shared: str) -> Prompt:
        return Prompt(self.system, shared)

    def classify_options(self) -> list[str]:
        return [*self.schema.labels, "none"]

    def verify(self, shared: str, span: str, label: str) -> Prompt:
        desc = self.schema.description(label)
        article = "an" if label[:1].lower() in "aeiou" else "a"
        return Prompt(
            self.system,
            shared,
            template("verify").format(
                span=_one_line(span), article=article, label=label, description=f" ({desc})" if desc else ""
            ),
        )
