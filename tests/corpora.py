"""Test data: where the shared real corpora are: $EL4NER_SHARED_DATA, else ../shared/data beside the
repository, else /work/shared/data. Their absence fails the tests that need them (no silent skip)."""

import os
from pathlib import Path

import pytest

from el4ner_local.documents import LabelledSentence, Span, tokenize


def shared_data() -> Path:
    candidates = [Path(p) for p in [os.environ.get("EL4NER_SHARED_DATA", "")] if p]
    candidates += [Path(__file__).resolve().parents[1].parent / "shared" / "data", Path("/work/shared/data")]
    for path in candidates:
        if (path / "wnut17").is_dir():
            return path
    pytest.fail(f"the shared corpora are not at any of {[str(c) for c in candidates]}; set EL4NER_SHARED_DATA")


def labelled(text: str, *entities: tuple[str, str]) -> LabelledSentence:
    """A hand-made pool sentence: each entity given by its (first) surface text and label."""
    spans = []
    for surface, label in entities:
        start = text.index(surface)
        spans.append(Span(start, start + len(surface), label))
    return LabelledSentence(text=text, tokens=tokenize(text), spans=spans, source="test")
