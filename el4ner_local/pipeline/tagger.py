"""The Python API: load a tagger once, call it on text, get spans with offsets and votes.

    tagger = Tagger.load(labels="person,location")
    doc = tagger("Ada Lovelace was born in London.")
    for e in doc.entities: print(e.start, e.end, e.text, e.label, e.confidence)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

from ..config import Config, PipelineSettings, load_config
from ..documents import make_document
from ..errors import UserError
from ..llm.backend import LLM, StageStats
from ..schema import Schema, load_schema, parse_labels
from .records import SentenceRecord, TaggedDocument
from .stages import SentenceInput, Stages
from .votes import VoteRule


def rule_from(settings: PipelineSettings, models: list[str] | None = None) -> VoteRule:
    """The vote rule of the settings; with `models`, only their weights (a tagger built with some of
    the configured models weighs their votes against each other, not against absent ones)."""
    weights = {m: w for m, w in settings.weights if models is None or m in models}
    return VoteRule(extract_min_votes=settings.extract_min_votes, type_source=settings.type_source,
                    classify_threshold=settings.classify_threshold, verify=settings.verify,
                    verify_threshold=settings.verify_threshold, weights=weights)


class Tagger:
    def __init__(self, models: list[LLM], schema: Schema, settings: PipelineSettings, index=None,
                 retrieval_mode: str = "span"):
        self.models = models
        self.schema = schema
        self.settings = settings
        self.index = index
        self.retrieval_mode = retrieval_mode
        self.stats = StageStats()
        self.stages = Stages(models, schema, settings, rule_from(settings, [m.name for m in models]))

    @classmethod
    def load(cls, *, models: str | Path | None = None, labels: str | None = None, schema_file: Path | None = None,
             index="default", only: list[str] | None = None, **overrides) -> "Tagger":
        """Build a tagger from a models.toml (default: built-in), a schema and a demonstration index
        ("default" = the embedded pool, a path = an index directory, an open DemoIndex, None = zero-shot)."""
        from ..llm.llama_cpp_backend import load

        config: Config = load_config(models)
        settings = replace(config.pipeline, **overrides)
        specs = [config.model(n) for n in only] if only else list(config.models)
        idx = _open_index(index)
        if labels:
            schema = parse_labels(labels)
        elif schema_file:
            schema = load_schema(Path(schema_file))
        elif idx is not None:
            schema = Schema(tuple(idx.labels))
        else:
            raise UserError("no entity types given and no demonstration pool to take them from",
                            fix="pass --labels person,location,... or --schema FILE")
        return cls([load(s) for s in specs], schema, settings, idx)

    def __call__(self, text: str, name: str = "") -> TaggedDocument:
        return self.tag(text, name)

    def tag(self, text: str, name: str = "", progress: Callable[[int, int], None] | None = None) -> TaggedDocument:
        doc = make_document(text, name)
        records = list(self.iter_sentences(text, doc.sentences, progress))
        return TaggedDocument(text=text, sentences=records, name=name)

    def iter_sentences(self, text: str, sentences, progress=None) -> Iterator[SentenceRecord]:
        for i, sent in enumerate(sentences):
            yield self.tag_sentence(SentenceInput(sent.text_of(text), sent.start, sent.tokens, sent.window))
            if progress:
                progress(i + 1, len(sentences))

    def tag_sentence(self, sent: SentenceInput) -> SentenceRecord:
        record = SentenceRecord(start=sent.base, end=sent.base + len(sent.text), window=sent.window)
        demos = []
        if self.index is not None and self.settings.k > 0:
            spans = self.stages.candidate_spans(sent, record, self.stats) if self.retrieval_mode == "span" else []
            demos = self.index.retrieve(sent.text, spans, self.settings.k, mode=self.retrieval_mode)
        return self.stages.run(sent, demos, record, self.stats)


def _open_index(index):
    """None, "default", an index directory, or an already open DemoIndex."""
    if index is None or not isinstance(index, (str, Path)):
        return index
    from ..retrieval import DemoIndex, open_default_index

    return open_default_index() if index == "default" else DemoIndex.load(Path(index))
