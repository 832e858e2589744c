"""Shared helpers of the annotator tests (no tests here): hand-made model records for layout and
session tests, and a plain-text dump of the app's screen."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from el4ner_local.documents import make_document
from el4ner_local.pipeline.records import Candidate, SentenceRecord

DEFAULT_MODELS = ("qwen2.5-coder-0.5b", "smollm2-135m", "gemma3-270m")
LABELS = ["person", "location", "group"]
TEXT = (
    "Ada Lovelace met Charles Babbage in London. She wrote notes on the Analytical Engine.\nBabbage never finished it."
)


def hand_record(text: str, sentence: int, spans: list[tuple], models=DEFAULT_MODELS) -> SentenceRecord:
    """A record as the pipeline writes it. spans: (surface text, label, extracted_by, accepted, confidence)."""
    sent = make_document(text).sentences[sentence]
    cands = []
    for surface, label, by, accepted, confidence in spans:
        start = text.index(surface, sent.start)
        probs = {m: ({label: 0.8, "none": 0.2} if m in by else {label: 0.3, "none": 0.7}) for m in models}
        cands.append(
            Candidate(
                start,
                start + len(surface),
                surface,
                extracted_by=list(by),
                extracted_types={m: label for m in by},
                type_probs=probs,
                label=label if accepted else None,
                verification={m: (0.9 if accepted else 0.2) for m in models},
                confidence=confidence,
                accepted=accepted,
                reason="" if accepted else "classified as not an entity",
            )
        )
    return SentenceRecord(sent.start, sent.end, raw={"extraction": {m: "" for m in models}}, candidates=cands)


def default_records(text: str = TEXT) -> dict[int, SentenceRecord]:
    return {
        0: hand_record(
            text,
            0,
            [
                ("Ada Lovelace", "person", DEFAULT_MODELS, True, 0.81),
                ("Charles Babbage", "person", DEFAULT_MODELS[:2], True, 0.55),
                ("London", "location", DEFAULT_MODELS[1:2], False, 0.0),
            ],
        ),
        1: hand_record(text, 1, [("Analytical Engine", "group", DEFAULT_MODELS[:1], True, 0.62)]),
    }


def screen_text(app) -> str:
    """What the terminal shows, as plain text."""
    from rich.console import Console

    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


async def until(pilot, condition, cap: float = 60.0, step: float = 0.05) -> None:
    """Let the app run until `condition()` holds (a cap against hanging, not a speed requirement)."""
    import time

    deadline = time.monotonic() + cap
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"still not true after {cap:.0f} s: {getattr(condition, '__doc__', None) or condition}"
            )
        await pilot.pause(step)


def flat_text(app) -> str:
    """The screen's words in reading order, borders dropped and wrapped lines joined."""
    import re

    lines = [re.sub(r"[│█▌▐╭╮╰╯─▀▄┃]+", " ", line).strip() for line in screen_text(app).splitlines()]
    return " ".join(" ".join(line for line in lines if line).split())


async def shows(pilot, app, *texts: str, cap: float = 60.0) -> str:
    """Wait until the screen shows every text (a line break may fall inside one); returns the screen."""
    await until(pilot, lambda: all(t in flat_text(app) for t in texts), cap)
    return screen_text(app)


def unwritable_dir(tmp_path):
    """A directory this process cannot create files in (root ignores permissions: then sysfs)."""
    if os.geteuid() != 0:
        d = tmp_path / "ro"
        d.mkdir()
        d.chmod(0o555)
        return d
    if os.path.isdir("/sys") and _refuses("/sys"):
        return Path("/sys")  # root ignores permissions; sysfs refuses new files
    pytest.skip("no unwritable directory here")


def _refuses(directory: str) -> bool:
    try:
        fd = os.open(os.path.join(directory, "el4ner-probe"), os.O_CREAT | os.O_WRONLY)
    except OSError:
        return True
    os.close(fd)
    os.unlink(os.path.join(directory, "el4ner-probe"))
    return False
