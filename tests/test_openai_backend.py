"""The openai source against a real server process on 127.0.0.1: llama-cpp-python's own
OpenAI-compatible server serving SmolLM2-135M, compared with the same GGUF loaded here."""

from __future__ import annotations

import http.server
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from el4ner_local.config import DEFAULT_MODELS_FILE, load_config
from el4ner_local.errors import UserError
from el4ner_local.llm import sources
from el4ner_local.llm.backend import Prompt
from el4ner_local.llm.llama_cpp_backend import load
from el4ner_local.llm.openai_backend import RemoteModel

pytestmark = pytest.mark.slow

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
    return load(default_models.model("smollm2-135m"))


@pytest.fixture(scope="module")
def server(default_models, tmp_path_factory):
    """`python -m llama_cpp.server` on loopback, started and stopped here (its log in a file: a
    pipe nobody reads would fill up and stall it)."""
    path = sources.resolve(default_models.model("smollm2-135m"))
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--host", "127.0.0.1",
                                 "--port", str(port), "--n_ctx", "4096"], stdout=sink, stderr=sink)
    url = f"http://127.0.0.1:{port}/v1"
    while True:  # until it answers, or dies
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        try:
            urllib.request.urlopen(url + "/models", timeout=5).read()
            break
        except OSError:
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait()


@pytest.fixture(scope="module")
def models_toml(server, local, tmp_path_factory):
    folder = tmp_path_factory.mktemp("remote")
    (folder / "smollm2.jinja").write_text(local.llm.metadata["tokenizer.chat_template"], encoding="utf-8")
    path = folder / "models.toml"
    default = DEFAULT_MODELS_FILE.read_text(encoding="utf-8")
    pipeline = default[default.index("\n[pipeline]"):]  # the same settings as the local run
    path.write_text(REMOTE_TOML.format(url=server) + pipeline, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def remote(models_toml):
    return load(load_config(models_toml).models[0])


def test_remote_member_answers_what_the_local_model_answers(remote, local):
    assert isinstance(remote, RemoteModel)
    prompts = [Prompt(SYSTEM, "Sentence: Maria flew to Lisbon with Ada Lovelace.\nList the named entities, one per line."),
               Prompt(SYSTEM, "List ten fruits, one per line, nothing else."),
               Prompt(SYSTEM, "Name the capital of France in one word.")]
    for prompt in prompts:
        assert remote.render(prompt) == local.render(prompt)
        for kwargs in ({"prefill": "Entities:\n", "max_lines": 3}, {"stop": ["\n\n", "Paris"]},
                       {"stop_on_line": lambda text: text.count("\n") >= 2}):
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
    assert all(n >= h - 0.01 for n, h in zip(near, here))  # outside the top list: an upper bound


def test_tag_with_the_remote_member_gives_the_local_answer(models_toml, default_models, tmp_path):
    text = tmp_path / "a.txt"
    text.write_text("Maria flew from Lisbon to Berlin with Siemens.\n", encoding="utf-8")
    args = [str(text), "--index", "none", "--labels", "person,location,corporation"]
    near = subprocess.run([sys.executable, "-m", "el4ner_local.cli", "tag", *args, "--models", str(models_toml)],
                          capture_output=True)
    here = subprocess.run([sys.executable, "-m", "el4ner_local.cli", "tag", *args, "--only", "smollm2-135m"],
                          capture_output=True)
    assert near.returncode == here.returncode == 0, near.stderr.decode() + here.stderr.decode()
    near, here = json.loads(near.stdout), json.loads(here.stdout)
    assert near["entities"] == here["entities"]
    assert [s["raw"] for s in near["sentences"]] == [s["raw"] for s in here["sentences"]]
    assert [c["extracted_by"] for s in near["sentences"] for c in s["candidates"]] == \
        [c["extracted_by"] for s in here["sentences"] for c in s["candidates"]]


def test_unreachable_server_is_one_line_naming_the_url(tmp_path, closed_port):
    (tmp_path / "t.jinja").write_text("{{ messages[0].content }}")
    toml = tmp_path / "m.toml"
    toml.write_text(REMOTE_TOML.format(url=f"http://127.0.0.1:{closed_port}/v1").replace("smollm2.jinja", "t.jinja"))
    text = tmp_path / "a.txt"
    text.write_text("Maria flew to Lisbon.")
    proc = subprocess.run([sys.executable, "-m", "el4ner_local.cli", "tag", str(text), "--models", str(toml),
                           "--index", "none", "--labels", "person"], capture_output=True)
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
        toml.write_text(REMOTE_TOML.format(url=f"http://127.0.0.1:{server.server_address[1]}/v1")
                        .replace('prompt_style = "chat"', 'prompt_style = "completion"').replace('chat_template = "smollm2.jinja"', ""))
        model = RemoteModel(load_config(toml).models[0])
        with pytest.raises(UserError, match=r"answered something that is not OpenAI-API JSON \('<html>hello</html>'\)"):
            model.score(Prompt("", "The capital of France is"), [" Paris", " Rome"])
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("line, message", [
    ('url = "localhost:8080"', "an openai source needs url"),
    ('url = "http://h:1/v1"\ntop_logprobs = 0', "top_logprobs"),
    ('url = "http://h:1/v1"\nchat_template = "missing.jinja"', "chat template file"),
    ('url = "http://h:1/v1"\nsha256 = "x"', "unknown key in the openai"),
])
def test_openai_source_settings_are_checked(tmp_path, line, message):
    toml = tmp_path / "m.toml"
    toml.write_text(f'[[models]]\nname = "r"\n[models.source]\nkind = "openai"\n{line}\n')
    with pytest.raises(UserError, match=message):
        load_config(toml)
