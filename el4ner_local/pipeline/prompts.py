"""Prompt wording (package data in prompts/*.txt). Layout for the KV cache: instructions,
demonstrations and the sentence form the shared part; each stage's question comes last."""

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


class PromptBook:
    def __init__(self, schema: Schema):
        self.schema = schema
        self.system = template("system").format(schema=schema.describe()).strip()

    def shared(self, sentence: str, demonstrations: list[LabelledSentence] = ()) -> str:
        parts = []
        for demo in demonstrations:
            lines = [f"{_one_line(s.text_in(demo.text))} | {s.label}" for s in demo.spans] or ["none"]
            parts.append(template("demonstration").format(sentence=_one_line(demo.text), entities="\n".join(lines)))
        parts.append(template("sentence").format(sentence=_one_line(sentence)))
        return "".join(parts)

    def extract(self, shared: str) -> Prompt:
        return Prompt(self.system, shared, template("extract"))

    def classify_options(self) -> list[str]:
        return [*self.schema.labels, "none"]

    def verify(self, shared: str, span: str, label: str) -> Prompt:
        desc = self.schema.description(label)
        article = "an" if label[:1].lower() in "aeiou" else "a"
        return Prompt(self.system, shared, template("verify").format(
            span=_one_line(span), article=article, label=label, description=f" ({desc})" if desc else ""))
