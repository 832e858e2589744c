"""Label Studio tasks (a JSON array, which is what its import takes) for a project with the standard
NER labelling config:

    <View>
      <Labels name="label" toName="text"> <Label value="person"/> ... </Labels>
      <Text name="text" value="$text"/>
    </View>

Each task is `{"data": {"text": ..., <where it comes from>}, "predictions": [{"model_version", "score",
"result": [...]}]}`, one result per span: `{"id", "from_name": "label", "to_name": "text", "type":
"labels", "value": {"start", "end", "text", "labels": [label]}, "score": confidence}`, so the spans
come in as pre-annotations with their scores (the task's score is its lowest span confidence: sorting
by it puts the least certain tasks first). Accepted sentences (annotate --export) go in as
"annotations" instead. Offsets are character (code point) offsets into data.text, as Label Studio's
Text tag counts them.
"""

from __future__ import annotations

from typing import Any

from el4ner_local import __version__
from el4ner_local.formats.tagged import OutText

FROM_NAME, TO_NAME = "label", "text"
MODEL_VERSION = f"el4ner-local {__version__}"


def task(item: OutText) -> dict:
    results: list[dict[str, Any]] = []
    for i, s in enumerate(sorted(item.spans, key=lambda s: (s.start, s.end, s.label))):
        result: dict[str, Any] = {
            "id": f"e{i}",
            "from_name": FROM_NAME,
            "to_name": TO_NAME,
            "type": "labels",
            "value": {"start": s.start, "end": s.end, "text": item.text[s.start : s.end], "labels": [s.label]},
        }
        if s.confidence is not None:
            result["score"] = round(s.confidence, 4)
        results.append(result)
    data = {"text": item.text, **{k: v for k, v in item.meta.items() if k != "text"}}
    if not item.predicted:
        return {"data": data, "annotations": [{"result": results}]}
    prediction: dict = {"model_version": MODEL_VERSION}
    scores = [r["score"] for r in results if "score" in r]
    if scores:
        prediction["score"] = min(scores)
    prediction["result"] = results
    return {"data": data, "predictions": [prediction]}
