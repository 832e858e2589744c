"""Prompt wording (package data in prompts/*.txt). Layout for the KV cache: the instructions
(the same for every sentence and stage, so evaluated once per model and then served from the
cache), then the demonstrations and the sentence; a stage's own question, if any, comes last.
Extraction needs no question: the demonstrations' `Sentence:`/`Entities:` pattern asks it."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from ..documents import LabelledSentence
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


def demo_text(demo: LabelledSentence, max_words: int = 0) -> str:
    """A demonstration's sentence cut to a window of about `max_words` words around its entities
    (every entity kept whole), "..." marking a cut: the words far from the entities teach little
    and each costs tokens for every model. 0 = the whole sentence."""
    toks = demo.tokens
    if max_words <= 0 or len(toks) <= max_words:
        return _one_line(demo.text)
    if demo.spans:  # the tokens from the first entity to the last, centred in the window
        first = next(i for i, (s, e) in enumerate(toks) if e > min(sp.start for sp in demo.spans))
        last = max(i for i, (s, e) in enumerate(toks) if s < max(sp.end for sp in demo.spans))
        width = max(max_words, last - first + 1)
        lo = max(min(first - (width - (last - first + 1)) // 2, len(toks) - width), 0)
        hi = lo + width
    else:
        lo, hi = 0, max_words
    text = _one_line(demo.text[toks[lo][0] : toks[hi - 1][1]])
    return ("... " if lo > 0 else "") + text + (" ..." if hi < len(toks) else "")


class PromptBook:
    def __init__(self, schema: Schema):
        self.schema = schema
        self.system = template("system").format(schema=schema.describe()).strip()

    def shared(self, sentence: str, demonstrations: list[LabelledSentence] = (), demo_words: int = 0) -> str:
        parts = []
        for demo in demonstrations:
            lines = [f"{_one_line(s.text_in(demo.text))} | {s.label}" for s in demo.spans] or ["none"]
            parts.append(template("demonstration").format(sentence=demo_text(demo, demo_words), entities="\n".join(lines)))
        parts.append(template("sentence").format(sentence=_one_line(sentence)))
        return "".join(parts)

    def extract(self, shared: str) -> Prompt:
        return Prompt(self.system, shared)

    def classify_options(self) -> list[str]:
        return [*self.schema.labels, "none"]

    def verify(self, shared: str, span: str, label: str) -> Prompt:
        desc = self.schema.description(label)
        article = "an" if label[:1].lower() in "aeiou" else "a"
        return Prompt(self.system, shared, template("verify").format(
            span=_one_line(span), article=article, label=label, description=f" ({desc})" if desc else ""))
