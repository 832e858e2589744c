"""The openai source against a real server process on 127.0.0.1: llama-cpp-python's own
OpenAI-compatible server serving SmolLM2-135M, compared with the same GGUF loaded here."""

from __future__ import annotations

import http.server
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from el4ner_local.config import DEFAULT_MODELS_FILE, load_config
from el4ner_local.errors import UserError
from el4ner_local.llm import load_model, sources
from el4ner_local.llm.backend import Prompt
from el4ner_local.llm.openai_backend import RemoteModel

pytestmark = pytest.mark.models

SYSTEM = "You are a helpful assistant."
REMOTE_TOML = """
[[models]]
name = "smollm2-135m"
prompt_style = "chat"
[models.source]
kind = "openai"
url = "{url}"
chat_template = "smollm2.jinja"
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def local(default_models):
    return load_model(default_models.model("smollm2-135m"))


@pytest.fixture(scope="module")
def server(default_models, tmp_path_factory):
    """`python -m llama_cpp.server` on loopback, started and stopped here (its log in a file: a
    pipe nobody reads would fill up and stall it)."""
    path = sources.resolve(default_models.model("smollm2-135m"))
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(path),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "4096",
            ],
            stdout=sink,
            stderr=sink,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(1200):  # until it answers, or dies; a cap against a hang only (minutes, not a timing)
            assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
            try:
                urllib.request.urlopen(url + "/models", timeout=5).read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("the server never answered: " + log.read_text(errors="replace")[-2000:])
        yield url
    finally:
        proc.terminate()
        proc.wait()


@pytest.fixture(scope="module")
def models_toml(server, local, tmp_path_factory):
    folder = tmp_path_factory.mktemp("remote")
    (folder / "smollm2.jinja").write_text(local.llm.metadata["tokenizer.chat_template"], encoding="utf-8")
    path = folder / "models.toml"
    default = DEFAULT_MODELS_FILE.read_text(encoding="utf-8")
    # the same settings as the local run; the weights table names models this file does not have
    pipeline = default[default.index("\n[pipeline]") : default.index("\n[pipeline.weights]")]
    # one member: one vote, as `--only smollm2-135m` gives the local run
    pipeline = re.sub(r"^extract_min_votes = \d+", "extract_min_votes = 1", pipeline, count=1, flags=re.MULTILINE)
    path.write_text(REMOTE_TOML.format(url=server) + pipeline, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def remote(models_toml):
    return load_model(load_config(models_toml).models[0])


def test_remote_member_answers_what_the_local_model_answers(remote, local):
    assert isinstance(remote, RemoteModel)
    prompts = [
        Prompt(SYSTEM, "Sentence: Maria flew to Lisbon with Ada Lovelace.\nList the named entities, one per line."),
        Prompt(SYSTEM, "List ten fruits, one per line, nothing else."),
        Prompt(SYSTEM, "Name the capital of France in one word."),
    ]
    for prompt in prompts:
        assert remote.render(prompt) == local.render(prompt)
        for kwargs in (
            {"prefill": "Entities:\n", "max_lines": 3},
            {"stop": ["\n\n", "Paris"]},
            {"stop_on_line": lambda text: text.count("\n") >= 2},
        ):
            want = local.generate(prompt, max_tokens=40, **kwargs)
            assert want and remote.generate(prompt, max_tokens=40, **kwargs) == want, kwargs
    assert remote.stats.calls == 9 and remote.stats.generated > 0


def test_remote_scores_are_the_local_log_probabilities_for_the_top_options(remote, local):
    prompt = Prompt(SYSTEM, "What is the capital of France?")
    options = [" Paris", " London", " Paris, France", " Berlin", " the city of Paris"]
    near = remote.score(prompt, options, prefill="The capital of France is")
    here = local.score(prompt, options, prefill="The capital of France is")
    assert near[:3] == pytest.approx(here[:3], abs=0.01)  # these are in the server's top 20
    assert max(range(len(options)), key=near.__getitem__) == max(range(len(options)), key=here.__getitem__) == 0
    assert all(n >= h - 0.01 for n, h in zip(near, here, strict=True))  # outside the top list: an upper bound


def test_tag_with_the_remote_member_gives_the_local_answer(models_toml, default_models, tmp_path):
    text = tmp_path / "a.txt"
    text.write_text("Maria flew from Lisbon to Berlin with Siemens.\n", encoding="utf-8")
    args = [str(text), "--index", "none", "--labels", "person,location,corporation"]
    near = subprocess.run(
        [sys.executable, "-m", "el4ner_local.cli", "tag", *args, "--models", str(models_toml)], capture_output=True
    )
    here = subprocess.run(
        [sys.executable, "-m", "el4ner_local.cli", "tag", *args, "--only", "smollm2-135m"], capture_output=True
    )
    assert near.returncode == here.returncode == 0, near.stderr.decode() + here.stderr.decode()
    near, here = json.loads(near.stdout), json.loads(here.stdout)
    # the labels are the same; stage 3's probabilities come from the server's top log-probabilities (the test
    # above: equal to the local ones up to its rounding), so the confidences agree closely, not to the bit
    assert [{**e, "confidence": 0} for e in near["entities"]] == [{**e, "confidence": 0} for e in here["entities"]]
    for far, local in zip(near["entities"], here["entities"], strict=True):
        assert far["confidence"] == pytest.approx(local["confidence"], abs=0.02)
    assert [s["raw"] for s in near["sentences"]] == [s["raw"] for s in here["sentences"]]
    assert [c["extracted_by"] for s in near["sentences"] for c in s["candidates"]] == [
        c["extracted_by"] for s in here["sentences"] for c in s["candidates"]
    ]


def test_unreachable_server_is_one_line_naming_the_url(tmp_path, closed_port):
    (tmp_path / "t.jinja").write_text("{{ messages[0].content }}")
    toml = tmp_path / "m.toml"
    toml.write_text(REMOTE_TOML.format(url=f"http://127.0.0.1:{closed_port}/v1").replace("smollm2.jinja", "t.jinja"))
    text = tmp_path / "a.txt"
    text.write_text("Maria flew to Lisbon.")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "el4ner_local.cli",
            "tag",
            str(text),
            "--models",
            str(toml),
            "--index",
            "none",
            "--labels",
            "person",
        ],
        capture_output=True,
    )
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"cannot reach the server at http://127.0.0.1:{closed_port}/v1/completions" in err
    assert "(fix: start the server" in err


class _Garbage(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = b"<html>hello</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_server_answering_garbage_is_a_clear_error(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        toml = tmp_path / "m.toml"
        toml.write_text(
            REMOTE_TOML.format(url=f"http://127.0.0.1:{server.server_address[1]}/v1")
            .replace('prompt_style = "chat"', 'prompt_style = "completion"')
            .replace('chat_template = "smollm2.jinja"', "")
        )
        model = RemoteModel(load_config(toml).models[0])
        with pytest.raises(UserError, match=r"answered something that is not OpenAI-API JSON \('<html>hello</html>'\)"):
            model.score(Prompt("", "The capital of France is"), [" Paris", " Rome"])
    finally:
        server.shutdown()
        server.server_close()


def serve(handler) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def completion_model(tmp_path, server, extra: str = "") -> RemoteModel:
    toml = tmp_path / "m.toml"
    toml.write_text(
        REMOTE_TOML.format(url=f"http://127.0.0.1:{server.server_address[1]}/v1")
        .replace('prompt_style = "chat"', 'prompt_style = "completion"')
        .replace('chat_template = "smollm2.jinja"', extra)
    )
    return RemoteModel(load_config(toml).models[0])


SEEN: list[tuple[str, str | None]] = []  # what _Recorder was sent: (path, Authorization)


class _Recorder(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        SEEN.append((self.path, self.headers.get("Authorization")))
        self.send_response(500)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_redirect_is_refused_and_the_key_goes_nowhere_else(tmp_path, monkeypatch):
    elsewhere = serve(_Recorder)
    target = f"http://127.0.0.1:{elsewhere.server_address[1]}/steal"

    class Redirect(_Recorder):
        def do_POST(self):
            self.send_response(307)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = serve(Redirect)
    monkeypatch.setenv("EL4NER_TEST_KEY", "secret")
    SEEN.clear()
    try:
        model = completion_model(tmp_path, server, 'api_key_env = "EL4NER_TEST_KEY"')
        with pytest.raises(UserError, match=f"redirects to {target}, and redirects are not followed") as info:
            model.score(Prompt("", "The capital of France is"), [" Paris", " Rome"])
        assert "\n" not in str(info.value)
        assert SEEN == []
    finally:
        for s in (server, elsewhere):
            s.shutdown()
            s.server_close()


class _NotHTTP(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.wfile.write(b"SPAM SPAM SPAM\r\n\r\n")  # no status line


class _CutShort(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.write(b'3e8\r\ndata: {"choices": [')  # a chunk of 1000 bytes announced, 20 sent, closed

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("handler, kind", [(_NotHTTP, "BadStatusLine"), (_CutShort, "IncompleteRead")])
def test_an_answer_that_is_not_http_or_cut_short_is_one_line(tmp_path, handler, kind):
    server = serve(handler)
    try:
        model = completion_model(tmp_path, server)
        with pytest.raises(UserError, match=f"answered something that is not HTTP or cut it short \\({kind}\\)"):
            model.score(Prompt("", "The capital of France is"), [" Paris", " Rome"])
        with pytest.raises(UserError, match=kind):
            model.generate(Prompt("", "The capital of France is"), max_tokens=4)
    finally:
        server.shutdown()
        server.server_close()


def test_an_unset_api_key_variable_is_named_before_anything_is_sent(tmp_path, monkeypatch):
    SEEN.clear()
    server = serve(_Recorder)
    monkeypatch.delenv("EL4NER_TEST_NO_KEY", raising=False)
    try:
        model = completion_model(tmp_path, server, 'api_key_env = "EL4NER_TEST_NO_KEY"')
        with pytest.raises(UserError, match="api_key_env names EL4NER_TEST_NO_KEY, which is not set"):
            model.score(Prompt("", "The capital of France is"), [" Paris", " Rome"])
        assert SEEN == []
    finally:
        server.shutdown()
        server.server_close()


def test_rendered_chat_prompts_are_cached_in_bounded_memory(tmp_path, monkeypatch):
    toml = tmp_path / "m.toml"
    toml.write_text(REMOTE_TOML.format(url="http://127.0.0.1:1/v1").replace('chat_template = "smollm2.jinja"', ""))
    model = RemoteModel(load_config(toml).models[0])
    asked = []
    monkeypatch.setattr(model, "_apply_template", lambda messages: asked.append(messages) or repr(messages))
    first = Prompt(SYSTEM, "Question 0")
    for i in range(2000):
        model.render(Prompt(SYSTEM, f"Question {i}"))
        model.render(first)  # used again and again: stays cached
    assert len(asked) == 2000  # each distinct prompt rendered once
    assert len(model._rendered) <= 256


@pytest.mark.parametrize(
    "line, message",
    [
        ('url = "localhost:8080"', "an openai source needs url"),
        ('url = "http://h:1/v1"\ntop_logprobs = 0', "top_logprobs"),
        ('url = "http://h:1/v1"\nchat_template = "missing.jinja"', "chat template file"),
        ('url = "http://h:1/v1"\nsha256 = "x"', "unknown key in the openai"),
    ],
)
def test_openai_source_settings_are_checked(tmp_path, line, message):
    toml = tmp_path / "m.toml"
    toml.write_text(f'[[models]]\nname = "r"\n[models.source]\nkind = "openai"\n{line}\n')
    with pytest.raises(UserError, match=message):
        load_config(toml)
