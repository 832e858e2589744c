"""The Python API: load a tagger once, call it on text, get spans with offsets and votes.

tagger = Tagger.load(labels="person,location")
doc = tagger("Ada Lovelace was born in London.")
for e in doc.entities: print(e.start, e.end, e.text, e.label, e.confidence)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config, PipelineSettings, load_config
from ..documents import LabelledSentence, Sentence, make_document
from ..errors import UserError
from ..llm.backend import LLM, StageStats
from ..schema import Schema, load_schema, parse_labels
from .lexicon import Lexicon
from .records import SentenceRecord, TaggedDocument
from .stages import SentenceInput, Stages
from .votes import VoteRule

if TYPE_CHECKING:
    from ..retrieval import DemoIndex


class Tagger:
    def __init__(
        self,
        models: list[LLM],
        schema: Schema,
        settings: PipelineSettings,
        index: DemoIndex | None = None,
        retrieval_mode: str = "span",
    ) -> None:
        self.models = models
        self.schema = schema
        self.settings = settings
        self.index = index
        self.retrieval_mode = retrieval_mode
        self.stats = StageStats()
        self.tuning: dict | None = None  # the index's tuning entry whose vote settings apply (pipeline/tuned.py)
        lexicon = None
        if index is not None and (settings.lexicon or settings.lexicon_filter):
            # the words of the pool it may retrieve, as the schema labels them
            lexicon = Lexicon.from_pool(index.demonstration_pool(), schema.restrict)
        rule = VoteRule.from_settings(settings, [m.name for m in models])
        self.stages = Stages(models, schema, settings, rule, lexicon)

    @classmethod
    def load(
        cls,
        *,
        models: str | Path | None = None,
        profile: str | None = None,
        labels: str | Sequence[str] | None = None,
        schema_file: Path | None = None,
        index: str | Path | DemoIndex | None = "default",
        only: Sequence[str] | None = None,
        threads: int | None = None,
        llms: list[LLM] | None = None,
        retrieval_mode: str = "span",
        **overrides: Any,
    ) -> Tagger:
        """Build a tagger from a models.toml (default: built-in) and one of its profiles (default:
        DEFAULT_PROFILE, [pipeline] with every model), a schema and a demonstration index
        ("default" = the embedded pool, a path = an index directory, an open DemoIndex, None = zero-shot).
        `labels`: "person,location:a place,..." as on the command line, or a list of names. `only`: some
        of the profile's models (a subset runs without the profile's calibration and thresholds, fit on its
        whole ensemble). `overrides` replace the profile's settings; `threads` replaces each model's
        n_threads; `llms` stand in for the models of the file (tests; `threads` then does nothing and `only`
        only says which of the file's models they are). `retrieval_mode`: how the index retrieves (span, sentence, random).

        An index directory tuned for this profile (`index tune`, pipeline/tuned.py) gives the vote settings
        it chose, when the models and what they are asked are those it was tuned with; `overrides` win."""
        from ..llm import load_model

        config: Config = load_config(models, profile)
        settings = replace(config.pipeline_for(only), **overrides)
        if llms is None:
            specs = [config.model(n) for n in only] if only else list(config.models)
            if threads:
                specs = [replace(s, n_threads=threads) for s in specs]
        idx = _open_index(index)
        if labels:
            schema = parse_labels(labels) if isinstance(labels, str) else Schema(tuple(labels))
        elif schema_file:
            schema = load_schema(Path(schema_file))
        elif idx is not None:
            from ..retrieval.default import index_schema

            schema = index_schema(idx)
        else:
            raise UserError(
                "no entity types given and no demonstration pool to take them from",
                fix="pass --labels person,location,... or --schema FILE",
            )
        if llms is None:
            llms = [load_model(s) for s in specs]
        tuning = None
        if idx is not None and retrieval_mode == "span":  # the tuning was measured with span retrieval
            from .tuned import TUNED, entry_rule, rule_settings, tuned_for

            tuning = tuned_for(idx, config.profile, llms, schema, settings)
            if tuning is not None:
                tuned = rule_settings(entry_rule(tuning, idx.path))
                settings = replace(settings, **{k: tuned[k] for k in TUNED if k not in overrides})
        tagger = cls(llms, schema, settings, idx, retrieval_mode)
        tagger.tuning = tuning
        return tagger

    def tuning_note(self) -> str | None:
        """One line for the user when the index's tuning (`index tune`) decides the vote; None otherwise."""
        if self.tuning is None or self.index is None:
            return None
        rule = self.settings
        return (
            f"{self.index.path}: the vote as tuned on {self.tuning['held_out']['sentences']} held-out pool "
            f"sentences ({self.tuning['when']}): {rule.extract_min_votes} vote(s), types from {rule.type_source}, "
            f"{'with' if rule.lexicon else 'without'} the pool's names, "
            f"{'rejecting' if rule.lexicon_filter else 'keeping'} the words it leaves unlabelled"
        )

    def __call__(self, text: str, name: str = "") -> TaggedDocument:
        return self.tag(text, name)

    def tag(self, text: str, name: str = "", progress: Callable[[int, int], None] | None = None) -> TaggedDocument:
        doc = make_document(text, name)
        records = list(self.iter_sentences(text, doc.sentences, progress))
        return TaggedDocument(text=text, sentences=records, name=name)

    def iter_sentences(
        self, text: str, sentences: Sequence[Sentence], progress: Callable[[int, int], None] | None = None
    ) -> Iterator[SentenceRecord]:
        for i, sent in enumerate(sentences):
            yield self.tag_sentence(SentenceInput(sent.text_of(text), sent.start, sent.tokens, sent.window))
            if progress:
                progress(i + 1, len(sentences))

    def tag_sentence(self, sent: SentenceInput) -> SentenceRecord:
        record = SentenceRecord(start=sent.base, end=sent.base + len(sent.text), window=sent.window)
        demos: list[LabelledSentence] = []
        if self.index is not None and self.settings.k > 0:
            spans = self.stages.retrieval_spans(sent, record, self.stats) if self.retrieval_mode == "span" else []
            found = self.index.retrieve(sent.text, spans, self.settings.k, mode=self.retrieval_mode)
            # shown as the schema labels them; one whose entities are all of other types would teach
            # "none" where the user's types may well be present, so it is left out
            demos = [shown for d in found if (shown := self.schema.restrict(d)).spans or not d.spans]
        return self.stages.run(sent, demos, record, self.stats)


def _open_index(index: str | Path | DemoIndex | None) -> DemoIndex | None:
    """None, "default", an index directory, or an already open DemoIndex."""
    if index is None or not isinstance(index, (str, Path)):
        return index
    from ..retrieval import DemoIndex, open_default_index

    return open_default_index() if index == "default" else DemoIndex.load(Path(index))
