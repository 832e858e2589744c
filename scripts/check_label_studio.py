"""Check Label Studio tasks (tag --format label-studio, annotate --export-format label-studio) with
the real Label Studio SDK, in a virtual environment of its own (issue 17; see docs/interop.md).

    python3.11 -m venv /tmp/lsvenv && /tmp/lsvenv/bin/pip install label-studio-sdk
    python scripts/check_label_studio.py /tmp/lsvenv/bin/python tasks.json [more.json ...]
        [--labels person,location,organisation]

The SDK is not a dependency of the project (it pulls opencv, nltk and black and pins numpy), so this
script runs itself again under the given interpreter, which must have label-studio-sdk installed.
There, for the standard NER labelling config

    <View><Labels name="label" toName="text"><Label value="person"/>...</Labels>
          <Text name="text" value="$text"/></View>

it checks each file (one JSON array of tasks, as Label Studio imports):

  sdk     LabelInterface(config).validate() for the config, then per task: the data holds every
          object tag's $variable (what LabelInterface.validate_task checks first; the method itself
          cannot be called in SDK 2.1.2, it calls validate_prediction() without its argument), and
          LabelInterface.validate_prediction(..., return_errors=True) for every prediction and
          annotation (validate_annotation runs the same checks but only answers True/False):
          from_name/to_name in the config, type "labels", start/end/labels present, labels in the
          config, prediction score in 0..1.
  spans   what the SDK lets through but Label Studio's Text tag needs: int offsets with
          0 <= start < end <= len(text) in code points, value.text equal to the text at the
          offsets, at least one label, region scores in 0..1, region ids unique within a result.

Before the files, a self-test: a good task must pass and each broken copy (wrong from_name, wrong
to_name, wrong type, a label not in the config, no label, start > end, end past the text, a prediction score
of 7) must be refused, so that the check can fail. Exit status 0 when all is well, 1 when a task or
the self-test fails, 2 when the interpreter or a file cannot be used.
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
from pathlib import Path


def config_for(labels: list[str]) -> str:
    inner = "".join(f'<Label value="{label}"/>' for label in labels)
    return f'<View><Labels name="label" toName="text">{inner}</Labels><Text name="text" value="$text"/></View>'


def span_problems(task: dict, texts: dict[str, str], where: str) -> list[str]:
    """What the SDK does not check: the offsets against the text, region scores, unique ids."""
    problems = []
    for kind in ("predictions", "annotations"):
        for n, obj in enumerate(task.get(kind) or []):
            result = obj.get("result") if isinstance(obj, dict) else None
            if not isinstance(result, list):
                continue  # the SDK reports it
            ids = [r.get("id") for r in result if isinstance(r, dict) and "id" in r]
            if len(set(ids)) != len(ids):
                problems.append(f"{where} {kind}[{n}]: region ids repeat")
            for i, r in enumerate(result):
                if not isinstance(r, dict) or not isinstance(r.get("value"), dict):
                    continue
                at = f"{where} {kind}[{n}] region {i}"
                text = texts.get(r.get("to_name"))
                value = r["value"]
                start, end = value.get("start"), value.get("end")
                if type(start) is not int or type(end) is not int:
                    problems.append(f"{at}: start/end {start!r}/{end!r} are not integers")
                elif text is None:
                    problems.append(f"{at}: no text for to_name {r.get('to_name')!r}")
                elif not 0 <= start < end <= len(text):
                    problems.append(f"{at}: offsets {start}..{end} outside 0..{len(text)} or empty")
                elif "text" in value and value["text"] != text[start:end]:
                    problems.append(f"{at}: value.text {value['text']!r} is not {text[start:end]!r}")
                if not value.get("labels"):
                    problems.append(f"{at}: no label")
                score = r.get("score")
                if score is not None and not (isinstance(score, (int, float)) and 0 <= score <= 1):
                    problems.append(f"{at}: region score {score!r} outside 0..1")
    return problems


def check_task(li, task, where: str) -> tuple[list[str], list[str], int]:
    """(SDK problems, span problems, spans) of one task."""
    if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
        return [f"{where}: not a task with a data object"], [], 0
    sdk, count, texts = [], 0, {}
    for obj in li.objects:
        if obj.value_is_variable:
            value = task["data"].get(obj.value_name)
            if value is None:
                sdk.append(f"{where}: data has no {obj.value_name!r} for <{obj.tag} name={obj.name!r}>")
            else:
                texts[obj.name] = value
    for kind in ("predictions", "annotations"):
        for n, obj in enumerate(task.get(kind) or []):
            if not isinstance(obj, dict):
                sdk.append(f"{where} {kind}[{n}]: not an object")
                continue
            errors = li.validate_prediction(obj, return_errors=True)
            if kind == "annotations" and li.validate_annotation(obj) != (not errors):
                errors.append("validate_annotation and validate_prediction disagree")
            sdk += [f"{where} {kind}[{n}]: {e}" for e in errors]
            count += len(obj.get("result") or [])
    return sdk, span_problems(task, texts, where), count


def self_test(li, labels: list[str]) -> list[str]:
    text = "Ann met Bo."
    region = {
        "id": "e0",
        "from_name": "label",
        "to_name": "text",
        "type": "labels",
        "value": {"start": 0, "end": 3, "text": "Ann", "labels": [labels[0]]},
        "score": 0.9,
    }
    good = {"data": {"text": text}, "predictions": [{"model_version": "test", "score": 0.9, "result": [region]}]}
    failures = []
    sdk, spans, _ = check_task(li, good, "good task")
    if sdk or spans:
        failures.append(f"self-test: the good task was refused: {sdk + spans}")
    broken = {
        "wrong from_name": {"from_name": "labels"},
        "wrong to_name": {"to_name": "body"},
        "wrong type": {"type": "choices"},
        "label not in the config": {"value": {"start": 0, "end": 3, "text": "Ann", "labels": ["NOT-A-LABEL"]}},
        "no label": {"value": {"start": 0, "end": 3, "text": "Ann", "labels": []}},
        "start > end": {"value": {"start": 3, "end": 0, "text": "", "labels": [labels[0]]}},
        "end past the text": {"value": {"start": 8, "end": 40, "text": "Bo.", "labels": [labels[0]]}},
        "prediction score 7": None,
    }
    for name, change in broken.items():
        task = copy.deepcopy(good)
        if change is None:
            task["predictions"][0]["score"] = 7
        else:
            task["predictions"][0]["result"][0].update(change)
        sdk, spans, _ = check_task(li, task, "broken task")
        caught = "SDK" if sdk else "spans" if spans else None
        print(f"  self-test {name}: {'refused by ' + caught if caught else 'ACCEPTED'}")
        if caught is None:
            failures.append(f"self-test: the task with {name} was accepted")
    return failures


def inside(files: list[Path], labels: list[str]) -> int:
    from importlib.metadata import version

    try:
        from label_studio_sdk.label_interface import LabelInterface
    except ImportError as e:
        print(f"{sys.executable} has no label-studio-sdk ({e}): pip install label-studio-sdk there", file=sys.stderr)
        return 2

    config = config_for(labels)
    li = LabelInterface(config)
    li.validate()
    print(f"label-studio-sdk {version('label-studio-sdk')}, config {config}")
    failures = self_test(li, labels)
    for path in files:
        try:
            tasks = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            print(f"{path}: cannot read it as JSON: {e}", file=sys.stderr)
            return 2
        if not isinstance(tasks, list):
            failures.append(f"{path}: not a JSON array of tasks")
            continue
        sdk_all, span_all, spans, counts = [], [], 0, {"predictions": 0, "annotations": 0}
        for t, task in enumerate(tasks):
            sdk, span, n = check_task(li, task, f"{path} task {t}")
            sdk_all += sdk
            span_all += span
            spans += n
            for kind in counts:
                counts[kind] += len(task.get(kind) or []) if isinstance(task, dict) else 0
        verdict = "PASS" if not sdk_all and not span_all else "FAIL"
        print(
            f"{path}: {len(tasks)} tasks, {counts['predictions']} predictions, {counts['annotations']} annotations, "
            f"{spans} spans: SDK {len(sdk_all)} problems, spans {len(span_all)} problems: {verdict}"
        )
        for problem in sdk_all + span_all:
            print(f"  {problem}")
        failures += sdk_all + span_all
    for failure in failures:
        if failure.startswith("self-test"):
            print(failure)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("python", help="interpreter of the virtual environment with label-studio-sdk installed")
    parser.add_argument("tasks", nargs="+", type=Path, help="Label Studio tasks: one JSON array per file")
    parser.add_argument("--labels", default="person,location,organisation", help="the config's labels")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)  # the run under the venv
    args = parser.parse_args(argv)
    labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    if not labels:
        parser.error("--labels names no label")
    if args.inside:
        return inside(args.tasks, labels)
    here = str(Path(__file__).resolve())
    command = [args.python, here, "--inside", args.python, *map(str, args.tasks), "--labels", ",".join(labels)]
    try:
        return subprocess.run(command, check=False).returncode
    except OSError as e:
        print(f"cannot run {args.python}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
