"""The four stages for one sentence, each run by every model of the ensemble."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config import PipelineSettings
from ..documents import LabelledSentence
from ..llm.backend import LLM, StageStats
from ..retrieval.word_spans import word_spans
from ..schema import Schema
from . import prompts
from .lexicon import Lexicon
from .parse import locate, parse_answer
from .prompts import PromptBook
from .records import Candidate, SentenceRecord
from .votes import NONE, VoteRule, classify, decide


@dataclass
class SentenceInput:
    text: str  # the sentence's own text
    base: int  # its offset in the document
    tokens: list[tuple[int, int]]  # document offsets
    window: bool = False


def _timed(stats: StageStats | None, stage: str, model: LLM, fn):
    before = model.stats.copy()
    try:
        return fn()
    finally:
        if stats is not None:
            stats.add(stage, model.name, model.stats.minus(before))


def _looping(text: str, sent: SentenceInput, max_junk: int) -> bool:
    """True once an answer has `max_junk` lines that repeat an earlier line or name nothing in
    the sentence: small models loop or copy demonstrations, and every further token is waste."""
    if max_junk <= 0:
        return False
    seen: set[str] = set()
    junk = 0
    for line in text.splitlines():
        key = line.strip().lower()
        if not key:
            continue
        mentions = parse_answer(line)
        found = any(
            locate(m.text, sent.text, sent.tokens, sent.base) or locate(m.type_name, sent.text, sent.tokens, sent.base)
            for m in mentions
        )
        if key in seen or (mentions and not found):
            junk += 1
        seen.add(key)
    return junk >= max_junk


def _softmax(logps: list[float]) -> list[float]:
    top = max(logps)
    exps = [math.exp(x - top) for x in logps]
    total = sum(exps)
    return [e / total for e in exps]


class Stages:
    def __init__(
        self,
        models: list[LLM],
        schema: Schema,
        settings: PipelineSettings,
        rule: VoteRule,
        lexicon: Lexicon | None = None,
    ):
        self.models = models
        self.lexicon = lexicon  # what the pool knows of words, used by the vote as the rule says
        self.book = PromptBook(schema)
        self.schema = schema
        self.settings = settings
        self.rule = rule
        # config.py has checked that every named verifier is a model of the ensemble
        self.verifiers = [m for m in models if not settings.verifiers or m.name in settings.verifiers] or models

    def _extract(self, model: LLM, shared: str, stage: str, stats, sent: SentenceInput) -> str:
        return _timed(
            stats,
            stage,
            model,
            lambda: model.generate(
                self.book.extract(shared),
                prefill=prompts.EXTRACT_PREFILL,
                stop=prompts.STOP,
                max_tokens=self.settings.max_new_tokens,
                max_lines=self.settings.max_output_lines,
                stop_on_line=lambda text: _looping(text, sent, self.settings.max_junk_lines),
            ),
        )

    def retrieval_spans(self, sent: SentenceInput, record: SentenceRecord, stats=None) -> list[str]:
        """Stage 1, the spans that drive retrieval: every model lists spans zero-shot, and their union is used.
        With `retrieval_spans = "words"` the spans come from word runs instead, at no model call."""
        if self.settings.retrieval_spans == "words":
            record.stage1_spans = word_spans(sent.text, sent.tokens, sent.base)
            return record.stage1_spans
        shared = self.book.shared(sent.text)
        found: dict[str, None] = {}
        record.raw["candidates"] = {}
        for model in self.models:
            answer = self._extract(model, shared, "1-candidates", stats, sent)
            record.raw["candidates"][model.name] = answer
            for mention in parse_answer(answer, self.settings.max_output_lines):
                for s, e in locate(mention.text, sent.text, sent.tokens, sent.base):
                    found.setdefault(sent.text[s - sent.base : e - sent.base])
        record.stage1_spans = list(found)
        return record.stage1_spans

    def run(
        self, sent: SentenceInput, demos: list[LabelledSentence], record: SentenceRecord, stats=None
    ) -> SentenceRecord:
        shared = self.book.shared(sent.text, demos, self.settings.demo_words)
        record.demonstrations = [d.text for d in demos]
        cands = self.extract(sent, shared, record, stats)
        record.candidates = list(cands.values())
        # with types from extraction, stage 3's answers change no label: asked only for the confidence
        if self.rule.type_source != "extract" or self.rule.confidence_source == "classify":
            self.classify(shared, record.candidates, stats)
        if self.settings.verify:
            self.verify(shared, record.candidates, stats)
        found = []
        if self.lexicon is not None:
            spans = [(c.start, c.end) for c in record.candidates]
            found = self.lexicon.matches(sent.text, sent.tokens, sent.base)
            found += self.lexicon.unlabelled(sent.text, sent.tokens, spans, sent.base)
        decide(record.candidates, len(self.models), self.rule, found)
        return record

    def extract(
        self, sent: SentenceInput, shared: str, record: SentenceRecord, stats
    ) -> dict[tuple[int, int], Candidate]:
        """Stage 2: each model lists entity spans with the demonstrations; union across models.
        With `zero_shot_votes`, a model's stage-1 (zero-shot) spans count as its votes too;
        such votes are listed in `zero_shot_only` so the evaluation can take them back out."""
        cands: dict[tuple[int, int], Candidate] = {}
        record.raw["extraction"] = {}
        for model in self.models:
            answer = self._extract(model, shared, "2-extraction", stats, sent)
            record.raw["extraction"][model.name] = answer
            self._add_votes(cands, sent, model.name, answer, zero_shot=False)
        if self.settings.zero_shot_votes:
            for name, answer in record.raw.get("candidates", {}).items():
                self._add_votes(cands, sent, name, answer, zero_shot=True)
        return dict(sorted(cands.items()))

    def _add_votes(self, cands, sent: SentenceInput, model: str, answer: str, zero_shot: bool) -> None:
        for mention in parse_answer(answer, self.settings.max_output_lines):
            places = locate(mention.text, sent.text, sent.tokens, sent.base)
            type_name = mention.type_name
            if not places and mention.type_name:  # "person: John" written the other way round
                places = locate(mention.type_name, sent.text, sent.tokens, sent.base)
                type_name = mention.text
            for s, e in places:
                cand = cands.setdefault((s, e), Candidate(s, e, sent.text[s - sent.base : e - sent.base]))
                if model in cand.extracted_by:
                    continue
                cand.extracted_by.append(model)
                # a type outside the schema ("verb", "date") is a vote that this is no entity
                cand.extracted_types[model] = (self.schema.match(type_name) or NONE) if type_name else ""
                if zero_shot:
                    cand.zero_shot_only.append(model)

    def classify(self, shared: str, cands: list[Candidate], stats) -> None:
        """Stage 3: each model gives every extracted span a type or none, by log-probability.
        The question is asked in the demonstrations' own `text | type` format, right after the
        extraction prompt, so it costs only the span's tokens on top of the cached prefix."""
        options = self.book.classify_options()
        prompt = self.book.extract(shared)
        for model in self.models:
            for cand in cands:
                if len(cand.extracted_by) < self.rule.extract_min_votes:
                    continue
                prefill = prompts.classify_prefill(cand.text)
                logps = _timed(
                    stats,
                    "3-classification",
                    model,
                    lambda model=model, prefill=prefill: model.score(
                        prompt, [f" {o}" for o in options], prefill=prefill
                    ),
                )
                cand.type_probs[model.name] = dict(zip(options, _softmax(logps), strict=True))

    def verify(self, shared: str, cands: list[Candidate], stats) -> None:
        """Stage 4: the verifiers answer 'is span X of type T here?'; P(yes) is recorded."""
        for cand in cands:
            if len(cand.extracted_by) < self.rule.extract_min_votes:
                continue
            label, _ = classify(cand, self.rule)
            if label is None or label == NONE:
                continue
            cand.label = label
            for model in self.verifiers:
                logps = _timed(
                    stats,
                    "4-verification",
                    model,
                    lambda model=model, cand=cand, label=label: model.score(
                        self.book.verify(shared, cand.text, label),
                        [" yes", " Yes", " no", " No"],
                        prefill=prompts.VERIFY_PREFILL,
                    ),
                )
                probs = _softmax(logps)
                cand.verification[model.name] = probs[0] + probs[1]
