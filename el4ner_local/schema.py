"""The entity schema: labels with optional one-line descriptions, and tolerant mapping of a
model's type name ("Person", "organization", "creative work") onto it."""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

from .documents import LabelledSentence, Span
from .errors import UserError

# Common abbreviations models use; applied only when the expansion is in the schema.
_ALIASES = {
    "per": "person",
    "pers": "person",
    "people": "person",
    "loc": "location",
    "place": "location",
    "org": "organisation",
    "organization": "organisation",
    "company": "corporation",
    "gpe": "location",
    "misc": "misc",
    "work": "creativework",
}


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


@dataclass(frozen=True)
class Schema:
    labels: tuple[str, ...]
    descriptions: tuple[str, ...] = ()

    def __post_init__(self):
        if not self.labels:
            raise UserError("the entity schema is empty", fix="pass --labels person,location,... or a pool")
        if not self.descriptions:
            object.__setattr__(self, "descriptions", ("",) * len(self.labels))

    def description(self, label: str) -> str:
        return self.descriptions[self.labels.index(label)]

    def describe(self) -> str:
        """One line: a bulleted list here gets copied by small models as if it were an answer."""
        return "; ".join(
            label + (f" ({desc})" if desc else "") for label, desc in zip(self.labels, self.descriptions, strict=True)
        )

    def match(self, name: str) -> str | None:
        """The schema label a model meant by `name`, or None (not an entity / unknown type)."""
        key = _norm(name)
        if not key:
            return None
        by_norm = {_norm(label): label for label in self.labels}
        if key in by_norm:
            return by_norm[key]
        alias = _ALIASES.get(key)
        if alias and _norm(alias) in by_norm:
            return by_norm[_norm(alias)]
        for norm, label in by_norm.items():  # "creative" -> "creative-work", "political party" -> "politicalparty"
            if len(key) >= 4 and (norm.startswith(key) or key.startswith(norm)):
                return label
        close = difflib.get_close_matches(key, list(by_norm), n=1, cutoff=0.8)
        return by_norm[close[0]] if close else None

    def restrict(self, demo: LabelledSentence) -> LabelledSentence:
        """A demonstration as this schema would label it: each pool span under the schema label it
        names (organization -> organisation), spans of types outside the schema dropped. A pool of
        other types (the built-in one under --labels drug,disease) then never teaches a type the
        user did not ask for; with the pool's own labels it is the demonstration unchanged."""
        spans = []
        for span in demo.spans:
            label = span.label if span.label in self.labels else self.match(span.label)
            if label is not None:
                spans.append(Span(span.start, span.end, label))
        return replace(demo, spans=spans)


def parse_labels(option: str) -> Schema:
    """`person,location:a place on Earth,...` from the command line."""
    labels, descs = [], []
    for item in option.split(","):
        name, _, desc = item.partition(":")
        if name.strip():
            labels.append(name.strip())
            descs.append(desc.strip())
    if len(set(labels)) != len(labels):
        raise UserError(f"--labels {option!r} names a label twice", fix="list each label once")
    return Schema(tuple(labels), tuple(descs))


def load_schema(path: Path) -> Schema:
    """A schema file: TOML or JSON mapping label -> description, or one `label: description` per line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(
            f"{path}: cannot read schema file ({exc.__class__.__name__})", fix="pass a readable UTF-8 file"
        ) from None
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix == ".json":
            data = json.loads(text)
        else:
            data = {}
            for line in text.splitlines():
                if line.strip() and not line.lstrip().startswith("#"):
                    name, _, desc = line.partition(":")
                    data[name.strip()] = desc.strip()
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: invalid schema file: {exc}", fix='write label = "description" pairs') from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise UserError(
            f"{path}: a schema maps each label to a description string", fix='write person = "names of people"'
        )
    return Schema(tuple(data), tuple(data.values()))
