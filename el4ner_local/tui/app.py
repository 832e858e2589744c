"""The annotator's Textual app: renders an `AnnotationState` and dispatches keys, clicks and model
events to it; its `AnnotationStore` saves every change.

    AnnotateApp(input_path, out_path, tagger_factory=..., keymap=...).run()

`tagger_factory(progress)` returns a loaded `Tagger` (it runs in a background thread); None runs
without models, on the suggestions saved earlier. All annotation logic lives in `annotation_state.py`,
all file work in `annotation_store.py`. Over ~400 lines because Textual wants every action, click and
model-event handler on the App; each is a few lines of dispatch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Header
from textual.worker import Worker

from ..errors import UserError
from ..file_lock import FileLock
from ..pipeline.stages import SentenceInput
from ..same_file import refuse_input_as_output
from . import suggester as ev
from .annotation_state import ACCEPTED, AnnotationState
from .annotation_store import AnnotationStore
from .help_screen import HelpScreen
from .keys import COMMANDS, effective_keys
from .label_bar import LabelBar
from .message_screen import MessageScreen
from .quit_screen import QuitScreen
from .save_as_screen import SaveAsScreen
from .sentence_view import SentenceView
from .span_list import SpanList
from .status_bar import ModelStatus, StatusBar
from .votes_panel import VotesPanel


class MainScreen(Screen):
    """The annotation view. Its bindings (the key map) call the app's actions."""

    BINDINGS = [Binding(c.keys, f"app.{c.action}", c.description, show=c.footer, id=c.id) for c in COMMANDS]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="")
        yield SentenceView(id="sentence")
        with Horizontal(id="lower"):
            with VerticalScroll(id="spans-box"):
                yield SpanList(id="spans")
            with VerticalScroll(id="votes-box"):
                yield VotesPanel(id="votes")
        yield LabelBar(id="labels")
        yield StatusBar(id="status")
        yield Footer()

    app: AnnotateApp  # the app it belongs to (for mypy: Textual types it as any App)

    def on_mount(self) -> None:
        self.app.refresh_view()


class AnnotateApp(App[str | None]):
    CSS_PATH = "app.tcss"
    TITLE = "el4ner-local annotate"
    ENABLE_COMMAND_PALETTE = False

    def __init__(
        self,
        input_path: str | Path,
        out_path: str | Path | None = None,
        *,
        tagger_factory: Callable | None = None,
        keymap: dict[str, str] | None = None,
        labels: list[str] | None = None,
        ahead: int = 3,
        lock: FileLock | None = None,
        inputs: Iterable[str | Path | None] = (),
        input_folders: Iterable[str | Path | None] = (),
    ) -> None:
        super().__init__()
        self.inputs, self.input_folders = list(inputs), list(input_folders)  # never written over (the store's)
        self.lock = lock  # the annotations file's lock, taken by the caller; the store carries it along
        self.input_path = Path(input_path)
        self.out_path = Path(out_path) if out_path else None
        self.tagger_factory = tagger_factory
        self.keymap = dict(keymap or {})
        self.initial_labels = list(labels or [])
        self.ahead = max(0, ahead)
        self.store: AnnotationStore | None = None  # the files; None until opened (or when they cannot be)
        self.state: AnnotationState | None = None  # what is shown and decided: self.store.state
        self.suggester: ev.Suggester | None = None
        self.model_status = ModelStatus(state="off" if tagger_factory is None else "loading")
        self.selection: tuple[int, int] | None = None  # (anchor, head) token indexes of the current sentence
        self.last_label: str | None = None
        self.fatal: UserError | None = None
        self._worker: Worker[None] | None = None
        self._computing_since: float | None = None
        self._shown_save_error: str | None = None
        self.main: MainScreen | None = None
        if self.keymap:
            self.set_keymap(self.keymap)

    # -- start ----------------------------------------------------------------------------------

    def on_mount(self) -> None:
        try:
            self.store = AnnotationStore.open(
                self.input_path, self.out_path, inputs=self.inputs, input_folders=self.input_folders
            )
            self.store.lock = self.lock
            self.state = self.store.state
        except UserError as exc:
            self.fatal = exc
            self.push_screen(MessageScreen("el4ner-local annotate cannot start", exc.message, exc.fix))
            return
        store, state = self.store, self.state
        state.set_labels(self.initial_labels)
        self.sub_title = f"{store.input_path.name} → {store.out_path.name}"
        store.check_writable()
        self.main = MainScreen()
        self.push_screen(self.main)
        if store.suggestions_error:
            self.model_status.problems.append(store.suggestions_error)
        self.refresh_view()
        if self.tagger_factory is not None:
            self.suggester = suggester = ev.Suggester(self.tagger_factory, post=self.post_message)
            self._update_wanted()
            self._worker = self._run_models(suggester)
            self.set_interval(1.0, self._tick)

    @work(thread=True, exclusive=True, group="models", exit_on_error=False)
    def _run_models(self, suggester: ev.Suggester) -> None:
        suggester.run()

    def on_unmount(self) -> None:
        # however the app ends (quit, an error, a test's teardown), the model thread must end too:
        # Python waits for it at exit
        if self.suggester is not None:
            self.suggester.stop()
        if self.store is not None:  # the file it moved to, if it moved (the annotate command frees the first)
            self.store.release_lock()

    def _tick(self) -> None:
        if self._computing_since is not None and self.main is not None:
            self.model_status.computing_for = time.monotonic() - self._computing_since
            self._refresh_status()

    # -- rendering ------------------------------------------------------------------------------

    def _selection_range(self) -> tuple[int, int] | None:
        if self.selection is None:
            return None
        a, b = self.selection
        return (min(a, b), max(a, b))

    def _selection_text(self) -> str | None:
        rng = self._selection_range()
        if rng is None or self.state is None:
            return None
        tokens = self.state.current.tokens
        return self.state.text[tokens[rng[0]][0] : tokens[rng[1]][1]]

    def refresh_view(self) -> None:
        state = self.state
        if state is None or self.main is None:
            return
        try:
            self.main.query_one(SentenceView).show(state, self._selection_range())
            self.main.query_one(SpanList).show(state)
            self.main.query_one(VotesPanel).show(state, self._selection_text(), self.model_status.models)
            self.main.query_one(LabelBar).show(state.labels)
        except NoMatches:  # the screen is not composed yet: its on_mount refreshes again
            return
        self._refresh_status()

    def _refresh_status(self) -> None:
        store = self.store
        if store is None or self.main is None:
            return
        try:
            bar = self.main.query_one(StatusBar)
        except NoMatches:
            return
        counts = store.state.counts()
        bar.show(
            self.model_status, counts["suggested"], len(store.state.sentences), store.out_path.name, store.save_error
        )
        if store.save_error != self._shown_save_error:
            if store.save_error is not None:
                self.notify(
                    f"{store.save_error}. Your decisions are kept in memory: ctrl+s tries again, "
                    f"ctrl+o saves them elsewhere.",
                    title="not saved",
                    severity="error",
                    timeout=10,
                )
            elif self._shown_save_error is not None:
                self.notify(f"every decision is saved in {store.out_path}", title="saved")
            self._shown_save_error = store.save_error

    def _say(self, message: str) -> None:
        if message:
            self.notify(message, timeout=4)

    def _after(self, message: str = "", *, keep_selection: bool = False) -> None:
        if not keep_selection:
            self.selection = None
        self._say(message)
        self.refresh_view()
        self._update_wanted()

    # -- model events ---------------------------------------------------------------------------

    def _update_wanted(self) -> None:
        state, sugg = self.state, self.suggester
        if state is None or sugg is None:
            return
        wanted = []
        for i in range(state.cursor, min(len(state.sentences), state.cursor + self.ahead + 1)):
            if state.needs_suggestions(i, sugg.models):
                s = state.sentences[i]
                wanted.append((i, SentenceInput(s.text, s.start, s.tokens, False)))
        sugg.want(wanted)

    def _queue_index(self, index: int) -> None:
        if self.suggester is not None and self.state is not None and self.state.sentences[index].status == ACCEPTED:
            self.suggester.add_to_index(index, self.state.labelled_sentence(index))

    def on_model_progress(self, event: ev.Progress) -> None:
        self.model_status.state, self.model_status.message = "loading", event.message
        self.refresh_view()

    def on_model_loaded(self, event: ev.Loaded) -> None:
        st = self.model_status
        st.state, st.models, st.index, st.index_sentences = "ready", event.models, event.index, event.index_sentences
        assert self.state is not None  # opened before the models were started
        self.state.set_labels(event.labels)
        for sent in self.state.accepted_sentences():  # those the index lacks (a crash, an earlier failure)
            self._queue_index(sent.index)
        self._update_wanted()
        self.refresh_view()

    def on_model_load_failed(self, event: ev.LoadFailed) -> None:
        self.model_status.state, self.model_status.message = "failed", event.message
        self.notify(event.message, title="the models could not be loaded", severity="error", timeout=15)
        self.refresh_view()

    def on_model_computing(self, event: ev.Computing) -> None:
        self.model_status.computing, self.model_status.computing_for = event.sentence, 0.0
        self._computing_since = time.monotonic()
        self.refresh_view()

    def on_model_suggested(self, event: ev.Suggested) -> None:
        st, store = self.model_status, self.store
        st.computing, st.last_seconds = None, event.seconds
        self._computing_since = None
        assert self.state is not None and store is not None  # opened before the models were started
        self.state.set_suggestions(event.sentence, event.record, event.models)
        if store.suggestions_error and store.suggestions_error not in st.problems:
            st.problems.append(store.suggestions_error)
        self._update_wanted()
        self.refresh_view()

    def on_model_suggest_failed(self, event: ev.SuggestFailed) -> None:
        self.model_status.computing = None
        self._computing_since = None
        self.model_status.problems.append(f"sentence {event.sentence + 1}: the models failed ({event.message})")
        self.notify(event.message, title=f"sentence {event.sentence + 1}: no suggestions", severity="error")
        self.refresh_view()

    def on_model_indexed(self, event: ev.Indexed) -> None:
        st = self.model_status
        st.index_sentences = event.index_sentences
        if event.error:
            st.problems.append(f"demonstration index: {event.error}")
            self.notify(event.error, title="not added to the demonstration index", severity="warning", timeout=10)
        elif event.added:
            st.indexed_here += 1
        self.refresh_view()

    def on_model_idle(self, event: ev.Idle) -> None:
        self.model_status.computing = None
        self._computing_since = None
        self.refresh_view()

    # -- actions: decisions ---------------------------------------------------------------------

    def _acting(self) -> AnnotationState | None:
        """The state the keys act on; None when they cannot act (not started, another screen on top)."""
        return self.state if self.main is not None and self.screen is self.main else None

    def action_accept(self) -> None:
        if (state := self._acting()) is not None:
            if self.selection is not None:
                return self.action_add_span()
            self._after(state.accept())
            self._queue_index(state.cursor)

    def action_reject(self) -> None:
        if (state := self._acting()) is not None:
            self._after(state.reject())
            self._queue_index(state.cursor)

    def action_relabel(self, number: int) -> None:
        if (state := self._acting()) is None:
            return
        labels = state.labels
        if not 1 <= number <= len(labels):
            self._say(f"there is no type number {number}" + (f" (types: 1–{len(labels)})" if labels else " yet"))
            return
        label = labels[number - 1]
        self.last_label = label
        if (rng := self._selection_range()) is not None:
            self._add_selection(state, rng, label)
        else:
            self._after(state.relabel(label))
        self._queue_index(state.cursor)

    def _add_selection(self, state: AnnotationState, rng: tuple[int, int], label: str | None) -> None:
        tokens = state.current.tokens
        message = state.add_span(tokens[rng[0]][0], tokens[rng[1]][1], label)
        self._after(message)

    def action_add_span(self) -> None:
        if (state := self._acting()) is None:
            return
        if (rng := self._selection_range()) is None:
            self._say("select tokens first: ←/→ move, shift+←/→ extend (or click, shift-click)")
            return
        self._add_selection(state, rng, self.last_label)
        self._queue_index(state.cursor)

    def action_resize(self, side: str, grow: bool) -> None:
        if (state := self._acting()) is not None:
            self._after(state.resize(side, grow))
            self._queue_index(state.cursor)

    def action_accept_sentence(self) -> None:
        if (state := self._acting()) is None:
            return
        sent = state.current
        pending = sent.record is None
        message = state.accept_sentence()
        if message:
            return self._after(message)
        n = len(sent.entities())
        note = f"sentence {sent.index + 1} accepted ({n} entit{'y' if n == 1 else 'ies'})"
        if pending:
            note += ", before the models' suggestions came"
        self._queue_index(sent.index)
        if sent.index + 1 < len(state.sentences):
            state.next_sentence()
        self._after(note)

    def action_undo(self) -> None:
        if (state := self._acting()) is not None:
            self._after(state.undo())

    # -- actions: moving and selecting ----------------------------------------------------------

    def action_next_span(self) -> None:
        if (state := self._acting()) is not None:
            self._after(state.next_span())

    def action_prev_span(self) -> None:
        if (state := self._acting()) is not None:
            self._after(state.prev_span())

    def action_next_sentence(self) -> None:
        if (state := self._acting()) is not None:
            self._after(state.next_sentence())

    def action_prev_sentence(self) -> None:
        if (state := self._acting()) is not None:
            self._after(state.prev_sentence())

    def action_next_uncertain(self) -> None:
        if (state := self._acting()) is not None:
            self._after(state.next_uncertain())

    def _anchor_token(self, state: AnnotationState) -> int:
        sent = state.current
        span = state.focused()
        if span is not None:
            for i, (_, e) in enumerate(sent.tokens):
                if e > span.start:
                    return i
        return 0

    def action_move_token(self, step: int) -> None:
        if (state := self._acting()) is None or not state.current.tokens:
            return
        n = len(state.current.tokens)
        if self.selection is None:
            head = self._anchor_token(state)
        else:
            head = max(0, min(n - 1, self.selection[1] + step))
        self.selection = (head, head)
        self._after(keep_selection=True)

    def action_extend_selection(self, step: int) -> None:
        if (state := self._acting()) is None or not state.current.tokens:
            return
        n = len(state.current.tokens)
        if self.selection is None:
            start = self._anchor_token(state)
            self.selection = (start, start)
        anchor, head = self.selection
        self.selection = (anchor, max(0, min(n - 1, head + step)))
        self._after(keep_selection=True)

    def action_clear_selection(self) -> None:
        if self._acting() is not None:
            self._after()

    def on_sentence_view_token_clicked(self, message: SentenceView.TokenClicked) -> None:
        if (state := self._acting()) is None:
            return
        token = message.token
        if message.shift:
            anchor = self.selection[0] if self.selection is not None else self._anchor_token(state)
            self.selection = (anchor, token)
            return self._after(keep_selection=True)
        s, e = state.current.tokens[token]
        inside = [i for i, span in enumerate(state.current.spans) if span.start <= s and e <= span.end]
        if inside and state.focus not in inside:
            best = max(inside, key=lambda i: (state.current.spans[i].is_entity, -i))
            state.focus_span(best)
            return self._after()
        self.selection = (token, token)
        self._after(keep_selection=True)

    def on_span_list_span_clicked(self, message: SpanList.SpanClicked) -> None:
        if (state := self._acting()) is not None:
            state.focus_span(message.index)
            self._after()

    def on_label_bar_label_clicked(self, message: LabelBar.LabelClicked) -> None:
        self.action_relabel(message.number)

    # -- actions: files -------------------------------------------------------------------------

    def action_save(self) -> None:
        if self.store is None:
            return
        if self.store.save():
            self._say(f"saved in {self.store.out_path}")
        self.refresh_view()

    def action_save_as(self) -> None:
        if self.store is None:
            return
        self.push_screen(SaveAsScreen(str(self.store.out_path), self.store.save_error), self._saved_as)

    def _saved_as(self, path: str | None, then_quit: bool = False) -> None:
        if not path or self.store is None:
            return
        if self.store.relocate(path):
            self.sub_title = f"{self.store.input_path.name} → {self.store.out_path.name}"
            self._say(f"saved in {self.store.out_path}; decisions now go there")
            if then_quit:
                self.call_later(self._quit_now)
        self.refresh_view()

    def action_export(self) -> None:
        if self.store is None:
            return
        out = self.store.out_path
        stem = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.name
        jsonl, conll = out.with_name(stem + ".accepted.jsonl"), out.with_name(stem + ".conll")
        try:  # neither is written when either would replace an input or the annotations file
            for path in (jsonl, conll):
                refuse_input_as_output(
                    path, [*self.store.inputs, out], option="export", folders=self.store.input_folders
                )
        except UserError as exc:
            self.notify(f"cannot export: {exc.one_line()}", severity="error")
            return
        try:
            n = self.store.export_jsonl(jsonl)
            _, lost = self.store.export_conll(conll)
        except OSError as exc:
            self.notify(f"cannot export: {exc.strerror or exc}", severity="error")
            return
        extra = f"; {lost} overlapping spans could not go into CoNLL" if lost else ""
        self.notify(f"{n} accepted sentences → {jsonl.name} and {conll.name}{extra}", title="exported")

    def action_help(self) -> None:
        if self.state is not None and self.screen is self.main:
            self.push_screen(HelpScreen(effective_keys(self.keymap), self.state.labels))

    async def action_quit(self) -> None:
        store = self.store
        if self.fatal is None and store is not None and store.unsaved and not store.save():
            self.refresh_view()
            self.push_screen(QuitScreen(store.save_error or "the last save failed"), self._quit_choice)
            return
        await self._quit_now()

    def _quit_choice(self, choice: str | None) -> None:
        store = self.store
        assert store is not None  # the quit screen asks only about a store's unsaved decisions
        if choice == "retry":
            self.action_save()
            if not store.unsaved:
                self.call_later(self._quit_now)
        elif choice == "save_as":
            self.push_screen(
                SaveAsScreen(str(store.out_path), store.save_error),
                lambda path: self._saved_as(path, then_quit=True),
            )
        elif choice == "quit":
            self.call_later(self._quit_now)

    async def _quit_now(self) -> None:
        if self.suggester is not None:
            self.suggester.stop()
            if self._worker is not None and self._worker.is_running:
                self.model_status.message = "stopping"
                self.notify("stopping: the models finish their current call…", timeout=30)
                try:
                    await self._worker.wait()
                except Exception:  # a failed worker has nothing left to finish
                    pass
        if self.fatal is not None:
            self.exit(self.fatal.one_line(), return_code=UserError.exit_code)
        else:
            self.exit(None)
