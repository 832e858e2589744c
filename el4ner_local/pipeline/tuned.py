"""The vote rule a pool chose (`el4ner-local index tune`), kept with the index in INDEX/tuning.json (private:
its report quotes no text, but it sits beside the pool). One entry per profile, each naming what it was
measured with: the models, what they are asked (the settings that are not the vote's, the schema, the
prompts) and the index's pool and retrieval. A tagger on that index and profile with the same models, asked
the same, takes the tuned vote settings (Tagger.load); any other takes its profile's, unchanged. `index add`
changes the pool, so a tuning made before it no longer applies until the pool is tuned again."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from ..config import PipelineSettings
from ..errors import UserError
from ..schema import Schema
from .votes import VoteRule

# retrieval/store.py TUNING names these as files of the index (a rebuild over it is not refused)
TUNING_FILE = "tuning.json"
TUNING_TMP = TUNING_FILE + ".tmp"
TUNING_DIR = "tuning"  # the held-out records `index tune` keeps (evaluation/cache.py RecordCache)
FORMAT = "el4ner-local index tuning"
VERSION = 1
# The PipelineSettings a tuning sets: those of its VoteRule. The other settings a record key names decide
# what the models are asked, which the tuning was measured under and must match (verifiers: the tuned rule
# never verifies, so they do not matter).
TUNED = (
    "extract_min_votes",
    "type_source",
    "confidence_source",
    "classify_threshold",
    "verify",
    "weights",
    "calibration",
    "thresholds",
    "lexicon",
    "lexicon_filter",
)
_NOT_ASKED = (*TUNED, "verifiers")


def tuning_path(index_dir: Path) -> Path:
    return Path(index_dir) / TUNING_FILE


def _jsonable(value):
    return [_jsonable(v) for v in value] if isinstance(value, (tuple, list)) else value


def measured_with(models: Sequence, schema: Schema, settings: PipelineSettings, index) -> dict:
    """What a tuning holds for: the models' identities, what they are asked, and the index's pool and
    retrieval (evaluation/cache.py, as the record cache knows them)."""
    from ..evaluation.cache import KEYED_SETTINGS, _prompt_hash, index_identity, model_identity

    asked = {name: _jsonable(getattr(settings, name)) for name in KEYED_SETTINGS if name not in _NOT_ASKED}
    return {
        "models": [model_identity(m) for m in models],
        "asked": {
            "settings": asked,
            "labels": list(schema.labels),
            "descriptions": list(schema.descriptions),
            "prompts": _prompt_hash(),
        },
        "pool": index_identity(index),
    }


def read_tunings(index_dir: Path) -> dict[str, dict]:
    """Profile name -> its entry in INDEX/tuning.json ({} when there is none)."""
    path = tuning_path(index_dir)
    fix = f"run `el4ner-local index tune {index_dir}` again, or delete {path}"
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise UserError(
            f"{path}: cannot read the index's tuning ({exc.strerror})", fix="check its permissions"
        ) from None
    except ValueError:
        raise UserError(f"{path}: not valid JSON (an index's tuning)", fix=fix) from None
    profiles = data.get("profiles") if isinstance(data, dict) and data.get("format") == FORMAT else None
    if not isinstance(profiles, dict) or not all(isinstance(e, dict) for e in profiles.values()):
        raise UserError(f"{path}: not an index tuning written by `el4ner-local index tune`", fix=fix)
    if data.get("version") != VERSION:
        return {}  # another version's tunings: measured otherwise, not applied
    return profiles


def write_tuning(index_dir: Path, profile: str, entry: dict) -> Path:
    """Keep `entry` as `profile`'s tuning (another profile's stays), privately and durably."""
    from ..durable import atomic_write
    from ..retrieval import store

    path = tuning_path(index_dir)
    with store.locked(Path(index_dir), exclusive=True):  # two tunes of one index keep both entries
        profiles = dict(read_tunings(index_dir))
        profiles[profile] = entry
        data = {"format": FORMAT, "version": VERSION, "profiles": dict(sorted(profiles.items()))}
        text = json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
        atomic_write(path, text.encode("utf-8"), tmp=Path(index_dir) / TUNING_TMP)
    return path


def applies(entry: dict, measured: dict) -> bool:
    return all(entry.get(key) == measured[key] for key in ("models", "asked", "pool"))


def rule_settings(rule: VoteRule) -> dict:
    """The PipelineSettings values (TUNED) of a vote rule."""
    return {
        "extract_min_votes": rule.extract_min_votes,
        "type_source": rule.type_source,
        "confidence_source": rule.confidence_source,
        "classify_threshold": rule.classify_threshold,
        "verify": rule.verify,
        "weights": tuple(sorted(rule.weights.items())),
        "calibration": rule.calibration.points if rule.calibration is not None else (),
        "thresholds": tuple(sorted(rule.label_thresholds.items())),
        "lexicon": rule.lexicon,
        "lexicon_filter": rule.lexicon_filter,
    }


def tuned_for(index, profile: str, models: Sequence, schema: Schema, settings: PipelineSettings) -> dict | None:
    """The tuning entry of `index` (an index directory) that holds for this profile, models, schema and
    settings; None when there is none."""
    path = getattr(index, "path", None)
    if path is None or not tuning_path(path).is_file():
        return None
    entry = read_tunings(path).get(profile)
    if entry is None or not applies(entry, measured_with(models, schema, settings, index)):
        return None
    return entry


def entry_rule(entry: dict, index_dir: Path) -> VoteRule:
    try:
        return VoteRule.from_json(entry["tuning"]["rule"])
    except (KeyError, TypeError, ValueError):
        raise UserError(
            f"{tuning_path(index_dir)}: a tuning without a valid rule",
            fix=f"run `el4ner-local index tune {index_dir}` again",
        ) from None


def resume_id(index_dir: Path, profile: str) -> str:
    """The profile's tuning by content ("" without one): `tag -o` resumes only under the same tuning."""
    entry = read_tunings(index_dir).get(profile)
    if entry is None:
        return ""
    return hashlib.sha256(json.dumps(entry, sort_keys=True).encode("utf-8")).hexdigest()
