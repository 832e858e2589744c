"""Annotator latency (issue 18): open the real annotator (headless, Textual's pilot, real models) on a
few WNUT-17 dev sentences and measure, from the app's start, when each sentence's suggestions are
shown; a simulated person spends --per-sentence seconds on each sentence (from when its suggestions
are there), accepts it and moves on, and the table says how long that person waits at each sentence.

    python scripts/bench_annotator.py --profile fast --sentences 6 --json /tmp/fast.json
    python scripts/bench_annotator.py --models scripts/candidate_models.toml --sentences 6

Readiness is observed read-only: a subclass of the app also handles the suggester's `Suggested`
event (Textual runs a subclass's handler and then the app's own) and notes the time once the app
has handled it, i.e. once the suggestions are in the state and on screen. The session is the
`annotate` command's own (its tagger factory, default demonstration index built in a temporary
session folder), so the first sentence's time includes building that index and loading the models.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from el4ner_local.commands.annotate import tagger_factory  # noqa: E402
from el4ner_local.tui import app as tui_app  # noqa: E402
from el4ner_local.tui import suggester as ev  # noqa: E402
from el4ner_local.tui.annotation_store import state_dir_for  # noqa: E402
from el4ner_local.tui.app import AnnotateApp  # noqa: E402

WNUT_DEV = ROOT.parent / "shared" / "data" / "wnut17" / "emerging.dev.conll"
CAP = 3600.0  # seconds; only against a hang


class TimedApp(AnnotateApp):
    """The annotator, unchanged, plus a clock on the model events (read-only)."""

    CSS_PATH = str(Path(tui_app.__file__).parent / AnnotateApp.CSS_PATH)  # Textual reads it beside the subclass

    def __init__(self, *args, t0: float, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.t0 = t0
        self.loaded_at: float | None = None
        self.ready: dict[int, float] = {}  # sentence -> seconds from start when its suggestions were shown
        self.compute: dict[int, float] = {}  # sentence -> the suggester's own seconds for it

    def _now(self) -> float:
        return time.perf_counter() - self.t0

    def on_model_loaded(self, event: ev.Loaded) -> None:  # AnnotateApp's handler runs after this one
        self.call_later(lambda: setattr(self, "loaded_at", self.loaded_at or self._now()))

    def on_model_suggested(self, event: ev.Suggested) -> None:  # AnnotateApp's handler runs after this one
        def note() -> None:
            if event.sentence not in self.ready:
                self.ready[event.sentence] = self._now()
                self.compute[event.sentence] = event.seconds

        self.call_later(note)  # after the app has handled the event: the suggestions are shown


def sample_text(n: int) -> str:
    """The first n WNUT-17 dev sentences over 40 characters that the annotator keeps as one sentence
    (a tweet often splits in two), one per line."""
    from el4ner_local.documents import split_sentences
    from el4ner_local.formats import read_labelled

    lines = [s.text for s in read_labelled(WNUT_DEV) if len(s.text) > 40 and len(split_sentences(s.text)) == 1][:n]
    return "\n".join(lines) + "\n"


async def session(args, folder: Path) -> dict:
    doc = folder / "sample.txt"
    doc.write_text(sample_text(args.sentences), encoding="utf-8")
    out = folder / "sample.annotations.jsonl"
    factory = tagger_factory(state_dir=state_dir_for(out), models=args.models, profile=args.profile)
    t0 = time.perf_counter()
    app = TimedApp(doc, out, tagger_factory=factory, ahead=args.ahead, t0=t0)
    async with app.run_test(size=(120, 36)) as pilot:
        assert app.state is not None
        n = len(app.state.sentences)

        async def wait_ready(i: int) -> None:
            deadline = time.monotonic() + CAP
            while i not in app.ready:
                if time.monotonic() > deadline:
                    raise SystemExit(f"sentence {i + 1}: no suggestions after {CAP:.0f} s")
                await pilot.pause(0.05)

        rows = []
        await wait_ready(0)
        arrive = app.ready[0]  # the person starts when the first suggestions appear
        for i in range(n):
            if i > 0:
                # done with the previous sentence: accept it (it goes to the index) and move here
                await asyncio.sleep(max(0.0, arrive - app._now()))
                await pilot.press("A")
                assert app.state.cursor == i, app.state.cursor
            await wait_ready(i)
            start = max(arrive, app.ready[i])
            rows.append(
                {
                    "sentence": i + 1,
                    "ready_s": round(app.ready[i], 2),
                    "compute_s": round(app.compute[i], 2),
                    "person_arrives_s": round(arrive, 2),
                    "wait_s": round(start - arrive, 2),
                }
            )
            arrive = start + args.per_sentence
        models = list(app.model_status.models)
        loaded = app.loaded_at
    return {
        "models_file": str(args.models or "default"),
        "profile": args.profile or "default",
        "models": models,
        "ahead": args.ahead,
        "per_sentence_s": args.per_sentence,
        "sentences": n,
        "models_loaded_s": round(loaded, 2) if loaded is not None else None,
        "first_suggestions_s": rows[0]["ready_s"],
        "total_wait_s": round(sum(r["wait_s"] for r in rows[1:]), 2),
        "rows": rows,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sentences", type=int, default=6)
    p.add_argument("--profile", default=None, help="a profile of the models file (default: its default)")
    p.add_argument("--models", default=None, help="models file (default: the one in force)")
    p.add_argument("--ahead", type=int, default=3, help="as annotate --ahead")
    p.add_argument("--per-sentence", type=float, default=15.0, help="seconds the person spends per sentence")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-annotator-") as tmp:
        result = asyncio.run(session(args, Path(tmp)))
    print(
        f"models: {', '.join(result['models'])} (profile {result['profile']}, file {result['models_file']}); "
        f"models loaded at {result['models_loaded_s']} s; first suggestions at {result['first_suggestions_s']} s"
    )
    print(f"{'sentence':>8} {'ready s':>8} {'compute s':>9} {'arrives s':>9} {'waits s':>8}")
    for r in result["rows"]:
        print(
            f"{r['sentence']:>8} {r['ready_s']:>8.1f} {r['compute_s']:>9.1f} "
            f"{r['person_arrives_s']:>9.1f} {r['wait_s']:>8.1f}"
        )
    print(f"waiting after the first sentence: {result['total_wait_s']} s in all")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
