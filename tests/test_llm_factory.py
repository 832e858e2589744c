"""The model factory (llm/factory.py): every source kind has a backend, a spec makes one model per
process, and no backend module imports another (the OpenAI-API client never pulls in llama.cpp)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from el4ner_local.config import SOURCE_KINDS, load_config
from el4ner_local.errors import UserError
from el4ner_local.llm import load_model
from el4ner_local.llm.factory import BACKENDS
from el4ner_local.llm.openai_backend import RemoteModel

SERVED = """
[[models]]
name = "served"
prompt_style = "completion"
[models.source]
kind = "openai"
url = "http://127.0.0.1:{port}/v1"
"""


def test_every_source_kind_has_a_backend():
    assert set(BACKENDS) == set(SOURCE_KINDS)


@pytest.mark.parametrize(
    "module, absent",
    [
        ("el4ner_local.llm.openai_backend", ("llama_cpp", "el4ner_local.llm.llama_cpp_backend")),
        ("el4ner_local.llm.llama_cpp_backend", ("el4ner_local.llm.openai_backend",)),
        ("el4ner_local.llm", ("llama_cpp", "el4ner_local.llm.llama_cpp_backend", "el4ner_local.llm.openai_backend")),
    ],
)
def test_a_backend_module_imports_no_other_backend(module, absent):
    code = f"import sys, {module}; print(sorted(m for m in sys.modules if m.split('.')[0] == 'llama_cpp' or m in {absent!r}))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_served_model_is_made_once_and_runs_no_local_threads(tmp_path, closed_port):
    (tmp_path / "m.toml").write_text(SERVED.format(port=closed_port), encoding="utf-8")
    spec = load_config(tmp_path / "m.toml").models[0]
    model = load_model(spec)  # nothing is sent yet: the port is closed
    assert isinstance(model, RemoteModel)
    assert load_model(spec) is model
    assert model.threads == 0
    with pytest.raises(UserError, match=f"cannot reach the server at http://127.0.0.1:{closed_port}/v1/models"):
        model.load()
