"""models.toml: the ensemble and the pipeline settings, validated with clear errors."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import UserError

DEFAULT_MODELS_FILE = Path(__file__).with_name("default_models.toml")
PROMPT_STYLES = ("chat", "completion")
SOURCE_KINDS = ("pypi", "hf", "path")


@dataclass(frozen=True)
class PypiPart:
    dist: str
    version: str
    member: str


@dataclass(frozen=True)
class ModelSource:
    kind: str
    file: str = ""
    sha256: str = ""
    parts: tuple[PypiPart, ...] = ()
    repo: str = ""
    revision: str = "main"
    path: str = ""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    source: ModelSource
    prompt_style: str = "chat"
    n_ctx: int = 4096
    n_gpu_layers: int = 0
    n_threads: int = 0  # 0 = as many as the machine has cores
    temperature: float = 0.0
    seed: int = 0


@dataclass(frozen=True)
class PipelineSettings:
    k: int = 4
    extract_min_votes: int = 1
    classify_threshold: float = 0.5
    verify: bool = True
    verifiers: tuple[str, ...] = ()
    max_output_lines: int = 12
    max_new_tokens: int = 160


@dataclass(frozen=True)
class Config:
    path: Path
    models: tuple[ModelSpec, ...]
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)

    def model(self, name: str) -> ModelSpec:
        for spec in self.models:
            if spec.name == name:
                return spec
        known = ", ".join(m.name for m in self.models)
        raise UserError(f"{self.path}: no model named {name!r}", fix=f"use one of: {known}")


def models_file(option: str | Path | None = None) -> Path:
    """The models file in force: --models, then $EL4NER_MODELS, then the default."""
    chosen = option or os.environ.get("EL4NER_MODELS")
    return Path(chosen) if chosen else DEFAULT_MODELS_FILE


def cache_dir() -> Path:
    """Where fetched model files and built indexes live: $EL4NER_CACHE or the XDG cache."""
    if env := os.environ.get("EL4NER_CACHE"):
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "el4ner-local"


def load_config(option: str | Path | None = None) -> Config:
    path = models_file(option)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: models file not found", fix="pass --models PATH or unset EL4NER_MODELS")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read models file ({exc.__class__.__name__})")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: invalid TOML: {exc}", fix="correct the syntax at that line")
    return _parse(path, text, data)


def _line_of(text: str, key: str, nth: int = 0) -> int:
    """1-based line of the nth assignment to `key` (TOML keeps no positions)."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if re.match(rf"\s*{re.escape(key)}\s*=", line)]
    if not hits:
        return 1
    return hits[min(nth, len(hits) - 1)]


def _parse(path: Path, text: str, data: dict) -> Config:
    def fail(key: str, problem: str, fix: str, nth: int = 0) -> UserError:
        return UserError(f"{path}:{_line_of(text, key, nth)}: key '{key}': {problem}", fix=fix)

    unknown_top = set(data) - {"models", "pipeline"}
    if unknown_top:
        key = sorted(unknown_top)[0]
        raise fail(key, "unknown key", "top-level tables are [[models]] and [pipeline]")
    raw_models = data.get("models")
    if not isinstance(raw_models, list) or not raw_models:
        raise UserError(f"{path}:1: no [[models]] entries", fix="add at least one [[models]] table")

    specs: list[ModelSpec] = []
    model_keys = {f.name for f in fields(ModelSpec)}
    for i, raw in enumerate(raw_models):
        if not isinstance(raw, dict):
            raise fail("models", "must be an array of tables", "write [[models]] entries")
        for key in raw:
            if key not in model_keys:
                raise fail(key, "unknown key in [[models]]", f"allowed: {', '.join(sorted(model_keys))}")
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise fail("name", f"model #{i + 1} needs a non-empty string name", 'add name = "..."', i)
        if any(s.name == name for s in specs):
            raise fail("name", f"duplicate model name {name!r}", "give each model its own name", i)
        style = raw.get("prompt_style", "chat")
        if style not in PROMPT_STYLES:
            raise fail("prompt_style", f"{style!r} is not one of {PROMPT_STYLES}", 'use "chat" or "completion"', i)
        kwargs = {"name": name, "prompt_style": style}
        for key, kind in (("n_ctx", int), ("n_gpu_layers", int), ("n_threads", int), ("seed", int), ("temperature", float)):
            if key in raw:
                value = raw[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
                    raise fail(key, f"must be {'an integer' if kind is int else 'a number'}, got {value!r}", f"set {key} = <number>", i)
                kwargs[key] = kind(value)
        if kwargs.get("n_ctx", 4096) < 512:
            raise fail("n_ctx", "must be at least 512", "set n_ctx = 4096", i)
        kwargs["source"] = _parse_source(raw.get("source"), name, fail, i)
        specs.append(ModelSpec(**kwargs))

    pipeline = _parse_pipeline(data.get("pipeline", {}), [s.name for s in specs], fail)
    return Config(path=path, models=tuple(specs), pipeline=pipeline)


def _parse_source(raw, name: str, fail, i: int) -> ModelSource:
    if not isinstance(raw, dict):
        raise fail("name", f"model {name!r} has no [models.source] table", 'add [models.source] with kind = "pypi" | "hf" | "path"', i)
    kind = raw.get("kind")
    if kind not in SOURCE_KINDS:
        raise fail("kind", f"model {name!r}: source kind {kind!r} is not one of {SOURCE_KINDS}", 'use kind = "pypi", "hf" or "path"', i)
    allowed = {"kind", "file", "sha256", "parts", "repo", "revision", "path"}
    for key in raw:
        if key not in allowed:
            raise fail(key, f"unknown key in [models.source] of {name!r}", f"allowed: {', '.join(sorted(allowed))}")
    sha = raw.get("sha256", "")
    if sha and not re.fullmatch(r"[0-9a-f]{64}", str(sha)):
        raise fail("sha256", f"model {name!r}: sha256 must be 64 lowercase hex digits", "copy the hash from `sha256sum FILE`", i)
    if kind == "pypi":
        parts = raw.get("parts")
        if not isinstance(parts, list) or not parts:
            raise fail("parts", f"model {name!r}: a pypi source needs a non-empty parts list", "list { dist, version, member } for each part", i)
        parsed = []
        for part in parts:
            if not isinstance(part, dict) or not all(isinstance(part.get(k), str) and part.get(k) for k in ("dist", "version", "member")):
                raise fail("parts", f"model {name!r}: each part needs dist, version and member strings", "see the default models.toml", i)
            parsed.append(PypiPart(part["dist"], part["version"], part["member"]))
        if not raw.get("file") or not sha:
            raise fail("kind", f"model {name!r}: a pypi source needs file and sha256", "add file = \"...\" and sha256 = \"...\"", i)
        return ModelSource(kind="pypi", file=raw["file"], sha256=sha, parts=tuple(parsed))
    if kind == "hf":
        if not raw.get("repo") or not raw.get("file"):
            raise fail("kind", f"model {name!r}: an hf source needs repo and file", 'add repo = "owner/name" and file = "model.gguf"', i)
        return ModelSource(kind="hf", repo=raw["repo"], file=raw["file"], sha256=sha, revision=raw.get("revision", "main"))
    if not raw.get("path"):
        raise fail("kind", f"model {name!r}: a path source needs path", 'add path = "/path/to/model.gguf"', i)
    return ModelSource(kind="path", path=os.path.expanduser(raw["path"]), file=Path(raw["path"]).name, sha256=sha)


def _parse_pipeline(raw, names: list[str], fail) -> PipelineSettings:
    if not isinstance(raw, dict):
        raise fail("pipeline", "must be a table", "write [pipeline]")
    allowed = {f.name: f for f in fields(PipelineSettings)}
    values = {}
    for key, value in raw.items():
        if key not in allowed:
            raise fail(key, "unknown key in [pipeline]", f"allowed: {', '.join(sorted(allowed))}")
        default = getattr(PipelineSettings(), key)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1
        else:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if not ok:
            raise fail(key, f"invalid value {value!r}", f"use a value like {default!r}")
        values[key] = tuple(value) if isinstance(value, list) else value
    for name in values.get("verifiers", ()):
        if name not in names:
            raise fail("verifiers", f"unknown model {name!r}", f"use names from [[models]]: {', '.join(names)}")
    return PipelineSettings(**values)
