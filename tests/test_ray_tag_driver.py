"""The `tag --ray` driver without a cluster: what it hands the workers and the output it leaves when
the cluster cannot be reached (resuming an earlier output: test_tag_resume.py)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from el4ner_local.config import DEFAULT_MODELS_FILE
from el4ner_local.errors import UserError
from el4ner_local.tagging import ray_driver
from el4ner_local.tagging.tag_io import input_blocks

ARGS = {"labels": None, "only": None, "overrides": {}}


class _Ray:
    def shutdown(self):
        pass


def test_workers_get_absolute_paths_and_the_models_file_in_force(tmp_path, monkeypatch):
    (tmp_path / "in.txt").write_text("Paris is in France.\n")
    (tmp_path / "schema.txt").write_text("location = a place\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EL4NER_MODELS", str(DEFAULT_MODELS_FILE))  # a worker would not see it
    handed = {}
    monkeypatch.setattr(ray_driver, "_connect", lambda address: _Ray())
    monkeypatch.setattr(ray_driver, "_tag_all", lambda *args: handed.update(args[-1]))
    ray_driver.run_tag_ray(
        ["in.txt"],
        address="local",
        workers=1,
        output=None,
        fmt="jsonl",
        schema=Path("schema.txt"),
        index="my-index",
        models=None,
        **ARGS,
    )
    assert handed["models"] == str(DEFAULT_MODELS_FILE.absolute())
    assert handed["schema_file"] == tmp_path / "schema.txt"
    assert handed["index"] == str(tmp_path / "my-index")


@pytest.mark.parametrize("index", [None, "default"])
def test_index_none_and_default_reach_the_workers_as_they_are(tmp_path, monkeypatch, index):
    (tmp_path / "in.txt").write_text("Paris is in France.\n")
    handed = {}
    monkeypatch.setattr(ray_driver, "_connect", lambda address: _Ray())
    monkeypatch.setattr(ray_driver, "_tag_all", lambda *args: handed.update(args[-1]))
    ray_driver.run_tag_ray(
        [str(tmp_path / "in.txt")],
        address="local",
        workers=1,
        output=None,
        fmt="jsonl",
        schema=None,
        index=index,
        models=None,
        **ARGS,
    )
    assert handed["index"] == index and handed["schema_file"] is None


def test_an_unreachable_cluster_leaves_a_conll_output_as_it_was(tmp_path, closed_port):
    (tmp_path / "in.txt").write_text("Paris is in France.\n")
    out = tmp_path / "out.conll"
    out.write_text("earlier results\n")
    with pytest.raises(UserError, match="cannot connect to the Ray cluster"):
        ray_driver.run_tag_ray(
            [str(tmp_path / "in.txt")],
            address=f"127.0.0.1:{closed_port}",
            workers=1,
            output=out,
            fmt="conll",
            schema=None,
            index=None,
            models=None,
            **ARGS,
        )
    assert out.read_text() == "earlier results\n"


def _records(src: Path, blocks: int) -> str:
    found, _ = input_blocks(str(src))
    return "".join(
        json.dumps({"name": str(src), "start": b.start, "text": b.text, "entities": []}) + "\n"
        for b in itertools.islice(found, blocks)
    )


def test_a_resumed_run_that_fails_says_only_its_error(tmp_path, closed_port, capsys):
    src = tmp_path / "in.txt"
    src.write_text("Paris is in France.\n" * 60)  # more than one block
    out = tmp_path / "out.jsonl"
    out.write_text(_records(src, 1))
    with pytest.raises(UserError, match="cannot connect to the Ray cluster"):
        ray_driver.run_tag_ray(
            [str(src)],
            address=f"127.0.0.1:{closed_port}",
            workers=1,
            output=out,
            fmt="jsonl",
            schema=None,
            index=None,
            models=None,
            **ARGS,
        )
    assert "already tagged" not in capsys.readouterr().err  # the error is the one line
    assert out.read_text() == _records(src, 1)


def test_a_resume_with_other_labels_is_refused_before_any_cluster(tmp_path, closed_port, capsys):
    src = tmp_path / "in.txt"
    src.write_text("Paris is in France.\n")
    out = tmp_path / "out.jsonl"
    out.write_text(_records(src, 1))
    run = dict(address=f"127.0.0.1:{closed_port}", workers=1, output=out, fmt="jsonl", schema=None, index=None)
    assert ray_driver.run_tag_ray([str(src)], models=None, labels="person", only=None, overrides={}, **run) == 0
    assert "1 block(s) already tagged, skipped" in capsys.readouterr().err  # every block done: no cluster
    with pytest.raises(UserError, match=r"other settings \(--labels differ\)"):
        ray_driver.run_tag_ray([str(src)], models=None, labels="place", only=None, overrides={}, **run)
    assert out.read_text() == _records(src, 1)
