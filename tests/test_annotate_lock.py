"""One annotate session at a time on an annotations file (issue 15, "nothing lost"): a second
session, or an export, on a file another session holds is refused in one line naming the holder's
process and the fix; a lock left by a killed session is taken over; moving the annotations
elsewhere (save as) moves the lock. The holders are real processes; the second session is the real
CLI. No models run here."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from test_cli_errors import NO_OVERRIDE
from test_tui_support import DEFAULT_MODELS, TEXT, default_records
from tmux_support import annotator_pid, kill_server, start_annotate, tmux, wait_for

from el4ner_local.errors import UserError
from el4ner_local.file_lock import FileLock, lock_path_for
from el4ner_local.tui.annotation_store import AnnotationStore, lock_annotations

# takes the annotations file's lock exactly as `annotate` does, says so, holds it until its
# standard input closes, then gives it back
HOLDER = """
import sys
from pathlib import Path
from el4ner_local.tui.annotation_store import lock_annotations
lock = lock_annotations(Path(sys.argv[1]), writer=True)
print("held", flush=True)
sys.stdin.read()
lock.release()
"""

# tries the lock once: exit 0 when it got it (and gives it back), 3 and the one line when refused
TRY = """
import sys
from pathlib import Path
from el4ner_local.errors import UserError
from el4ner_local.tui.annotation_store import lock_annotations
try:
    lock_annotations(Path(sys.argv[1]), writer=True).release()
except UserError as exc:
    print(exc.one_line())
    sys.exit(3)
"""


def cli() -> list[str]:
    exe = Path(sys.executable).with_name("el4ner-local")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "el4ner_local.cli"]


def annotated(tmp_path) -> tuple[Path, Path]:
    """An input with one accepted sentence saved: (the input, its annotations file)."""
    doc = tmp_path / "notes.txt"
    doc.write_text(TEXT, encoding="utf-8")
    store = AnnotationStore.open(doc)
    s = store.state
    for i, rec in default_records().items():
        s.set_suggestions(i, rec, DEFAULT_MODELS)
    s.set_labels(["person"])
    s.accept_sentence()
    return doc, store.out_path


class Holder:
    """A separate process holding the lock of `annotations` (a script file, so that its command line,
    which the refusal shows, is short)."""

    def __init__(self, tmp_path: Path, annotations: Path):
        script = tmp_path / "holder.py"
        script.write_text(HOLDER, encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(annotations)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()  # returns when it holds the lock, or when it died
        assert line == "held\n", self.proc.communicate()[1]
        self.pid = self.proc.pid

    def finish(self) -> None:
        """Close its standard input: it releases the lock and ends."""
        _, err = self.proc.communicate("")
        assert self.proc.returncode == 0, err

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()
        self.proc.stderr.close()


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*cli(), *args], capture_output=True, text=True, stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})}
    )


def try_lock(tmp_path: Path, annotations: Path) -> subprocess.CompletedProcess:
    script = tmp_path / "try_lock.py"
    script.write_text(TRY, encoding="utf-8")
    return subprocess.run([sys.executable, str(script), str(annotations)], capture_output=True, text=True)


def pid_in(lock_file: Path) -> int:
    return int(lock_file.read_text(encoding="utf-8").splitlines()[0])


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("el4ner-local: error: "), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    return lines[0]


# ---------------------------------------------------------------------------------------------
# Two processes


def test_an_export_while_another_session_holds_the_file_is_refused_in_one_line(tmp_path):
    doc, ann = annotated(tmp_path)
    before = ann.read_bytes()
    holder = Holder(tmp_path, ann)
    try:
        assert pid_in(lock_path_for(ann)) == holder.pid
        proc = run_cli("annotate", str(doc), "--export", str(tmp_path / "out.jsonl"))
        assert proc.returncode == 2, proc.stderr
        line = one_error_line(proc)
        assert str(ann) in line and "open in another annotate session" in line
        assert f"process {holder.pid}: " in line and "holder.py" in line  # its PID and command line
        assert "fix: quit that session first, or give --out another annotations file" in line
        assert not (tmp_path / "out.jsonl").exists()
        assert ann.read_bytes() == before
    finally:
        holder.finish()
    # the holder gave it back: the lock file is gone and the export runs
    assert not lock_path_for(ann).exists()
    proc = run_cli("annotate", str(doc), "--export", str(tmp_path / "out.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert "1 accepted sentences" in proc.stdout
    assert not lock_path_for(ann).exists()
    assert ann.read_bytes() == before


def test_a_second_interactive_session_is_refused_before_anything_loads(tmp_path):
    """`annotate FILE` (the interface) on a held file: one line, exit 2, before the interface opens and
    before the models file is even read (a missing models file would be the error otherwise)."""
    doc, ann = annotated(tmp_path)
    before = ann.read_bytes()
    holder = Holder(tmp_path, ann)
    try:
        proc = run_cli("annotate", str(doc), env={"EL4NER_MODELS": str(tmp_path / "no-models.toml")})
        assert proc.returncode == 2, proc.stderr
        line = one_error_line(proc)
        assert f"{ann}: open in another annotate session (process {holder.pid}: " in line
        assert "models file" not in line
        # the same with --out naming the file another way (relative, from another folder)
        (tmp_path / "sub").mkdir()
        proc = subprocess.run(
            [*cli(), "annotate", "../notes.txt", "--out", "../notes.annotations.jsonl"],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            cwd=tmp_path / "sub",
        )
        assert proc.returncode == 2 and f"process {holder.pid}" in one_error_line(proc)
        assert ann.read_bytes() == before
        assert not (tmp_path / "notes.annotations.session" / "index").exists()  # no model, no index built
    finally:
        holder.finish()


def test_a_lock_left_by_a_killed_session_is_taken_over(tmp_path):
    doc, ann = annotated(tmp_path)
    lock_file = lock_path_for(ann)
    first = Holder(tmp_path, ann)
    first.kill()  # SIGKILL: no clean-up; the kernel drops the flock, the file stays with its PID
    assert lock_file.exists() and pid_in(lock_file) == first.pid

    proc = run_cli("annotate", str(doc), "--export", str(tmp_path / "out.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert "1 accepted sentences" in proc.stdout
    assert not lock_file.exists()  # taken over, then given back

    # again stale, and a new session takes it: the file names the new holder, never the dead one
    first = Holder(tmp_path, ann)
    first.kill()
    second = Holder(tmp_path, ann)
    try:
        assert pid_in(lock_file) == second.pid
        proc = run_cli("annotate", str(doc), "--export", str(tmp_path / "out2.jsonl"))
        assert proc.returncode == 2
        line = one_error_line(proc)
        assert f"process {second.pid}: " in line and f"process {first.pid}" not in line
    finally:
        second.finish()


def test_a_holder_that_has_not_written_its_pid_yet_is_not_reported_as_the_dead_one(tmp_path):
    """The moment between a new holder's flock and its PID: the file still names a killed process.
    The refusal must not name that process as the holder."""
    _, ann = annotated(tmp_path)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    lock_file = lock_path_for(ann)
    lock_file.write_text(f"{dead_pid}\nel4ner-local annotate notes.txt\n", encoding="utf-8")
    raw = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys\n"
            "fd = os.open(sys.argv[1], os.O_RDWR)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\nsys.stdin.read()",
            str(lock_file),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert raw.stdout.readline() == "held\n"
        try:
            lock_annotations(ann, writer=True)
            raise AssertionError("the lock was taken while another process held it")
        except UserError as exc:
            line = exc.one_line()
        assert f"process {dead_pid}" not in line
        assert "a process that did not record its PID" in line and "open in another annotate session" in line
    finally:
        raw.communicate("")


# ---------------------------------------------------------------------------------------------
# Moving the annotations (save as)


def test_relocating_moves_the_lock_and_a_held_destination_is_refused(tmp_path):
    doc, ann = annotated(tmp_path)
    s = AnnotationStore.open(doc, ann)
    s.lock = lock_annotations(ann, writer=True)
    assert pid_in(lock_path_for(ann)) == os.getpid()
    assert try_lock(tmp_path, ann).returncode == 3  # held by us, seen from another process

    # a destination another session holds: refused, nothing moves, our lock stays
    other = tmp_path / "other.jsonl"
    holder = Holder(tmp_path, other)
    try:
        assert s.relocate(other) is False
        assert s.out_path == ann and not other.exists()
        assert f"process {holder.pid}: " in s.save_error and "choose another path" in s.save_error
        assert s.lock.covers(ann) and pid_in(lock_path_for(ann)) == os.getpid()
    finally:
        holder.finish()

    # a free destination (in a folder that does not exist yet): the lock moves with the file
    moved = tmp_path / "elsewhere" / "moved.jsonl"
    assert s.relocate(moved) is True, s.save_error
    assert s.lock.covers(moved) and pid_in(lock_path_for(moved)) == os.getpid()
    assert not lock_path_for(ann).exists()
    assert try_lock(tmp_path, ann).returncode == 0  # the old file is free again
    refused = try_lock(tmp_path, moved)
    assert refused.returncode == 3 and f"process {os.getpid()}: " in refused.stdout

    # moving to the same file keeps the lock
    assert s.relocate(moved) is True and s.lock.covers(moved) and s.lock.held
    s.release_lock()
    assert not lock_path_for(moved).exists()
    assert try_lock(tmp_path, moved).returncode == 0


def test_save_as_in_the_annotator_moves_the_lock_and_quitting_gives_it_back(tmp_path):
    """The app (Textual's pilot) given the lock as `annotate` gives it: save as (ctrl+o) to a file
    another session holds says so and keeps the old path; to a free file the lock follows; quitting
    gives the lock back."""
    import asyncio

    from test_tui_support import LABELS, shows, until

    from el4ner_local.tui.app import AnnotateApp
    from el4ner_local.tui.save_as_screen import SaveAsScreen

    doc, ann = annotated(tmp_path)
    held, free = tmp_path / "held.jsonl", tmp_path / "free.jsonl"
    lock = lock_annotations(ann, writer=True)
    holder = Holder(tmp_path, held)

    async def save_as(pilot, app, path):
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, SaveAsScreen))
        app.screen.query_one("#save-as-path").value = str(path)
        await pilot.press("enter")
        await pilot.pause()

    async def go():
        app = AnnotateApp(doc, ann, labels=LABELS, lock=lock)
        async with app.run_test(size=(110, 34)) as pilot:
            await save_as(pilot, app, held)
            await shows(pilot, app, f"process {holder.pid}")
            assert app.store.out_path == ann and app.store.lock is lock and lock.held
            await save_as(pilot, app, free)
            await until(pilot, lambda: app.store.out_path == free)
            assert not lock.held and not lock_path_for(ann).exists()
            assert pid_in(lock_path_for(free)) == os.getpid()
            await pilot.press("q")
            await pilot.pause()
        return app

    try:
        app = asyncio.run(go())
    finally:
        holder.finish()
    assert app.return_code == 0
    assert not lock_path_for(free).exists() and not app.store.lock.held
    assert [json.loads(line)["status"] for line in free.read_text().splitlines()] == ["accepted"]


def test_the_lock_of_one_file_under_two_names_is_one_lock(tmp_path):
    target = tmp_path / "a.jsonl"
    target.write_text("", encoding="utf-8")
    (tmp_path / "b.jsonl").symlink_to(target)
    with FileLock(target):
        try:
            FileLock(tmp_path / "b.jsonl", busy="busy", fix="wait").acquire()
            raise AssertionError("a second lock on the same file")
        except UserError as exc:
            assert f"process {os.getpid()}, this one" in exc.one_line()
    assert not lock_path_for(target).exists()


def test_two_sessions_through_a_symlinked_out_are_refused(tmp_path):
    """A session on `--out LINK` (a symlink to the annotations file) saves a decision: the link stays
    a link (the file it names is written), so a second `annotate --out LINK` finds the same lock."""
    doc, ann = annotated(tmp_path)
    link = tmp_path / "link.jsonl"
    link.symlink_to(ann)
    first = AnnotationStore.open(doc, link)
    first.lock = lock_annotations(link, writer=True)  # as `annotate` takes it
    try:
        first.state.set_labels(["person"])
        first.state.next_sentence()
        first.state.accept_sentence()
        assert link.is_symlink() and len(ann.read_text(encoding="utf-8").splitlines()) == 2
        proc = run_cli("annotate", str(doc), "--out", str(link), env={"EL4NER_MODELS": str(tmp_path / "none.toml")})
        assert proc.returncode == 2, proc.stderr
        assert f"open in another annotate session (process {os.getpid()}: " in one_error_line(proc)
    finally:
        first.release_lock()


def test_an_export_from_a_read_only_folder_needs_no_lock(tmp_path):
    """Where no lock file can be made, nothing can be saved either: the export just reads."""
    ro = tmp_path / "ro"
    ro.mkdir()
    doc, ann = annotated(ro)
    ro.chmod(0o555)
    try:
        as_user = NO_OVERRIDE if os.geteuid() == 0 else []  # root would write into the folder anyway
        proc = subprocess.run(
            [*as_user, *cli(), "annotate", str(doc), "--export", str(tmp_path / "out.jsonl")],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 0, proc.stderr
        assert "1 accepted sentences" in proc.stdout and not lock_path_for(ann).exists()
    finally:
        ro.chmod(0o755)


# ---------------------------------------------------------------------------------------------
# The real annotator in a real terminal

# the real CLI, with a tagger that fails to load (so no model runs: the interface works without
# suggestions, as when the models fail)
NO_MODELS = """
import sys
import el4ner_local.commands.annotate as ac
from el4ner_local.errors import UserError
def no_models(**kwargs):
    def load(progress):
        raise UserError("no models in this test")
    return load
ac.tagger_factory = no_models
from el4ner_local.cli import main
sys.argv = ["el4ner-local"] + sys.argv[1:]
main()
"""


def joined_screen(name: str) -> str:
    return tmux("capture-pane", "-p", "-J", "-t", name)


def test_two_annotators_in_real_terminals(tmp_path):
    """The first annotator holds notes.txt's annotations; a second one in another terminal exits at
    once with one line naming the first's PID. The first is killed (SIGKILL): a third one opens, and
    the lock file names it; quitting it removes the lock file."""
    assert shutil.which("tmux"), "this test needs tmux: apt-get install tmux (.ci/run does)"
    (tmp_path / "notes.txt").write_text(TEXT, encoding="utf-8")
    lock_file = lock_path_for(tmp_path / "notes.annotations.jsonl")
    opened = lambda t: "sentence 1 of " in t or "EXITED" in t  # noqa: E731
    try:
        start_annotate("first", tmp_path, "notes.txt", python_prelude=NO_MODELS)
        assert "EXITED" not in wait_for("first", opened, "the first annotator's interface")
        first = annotator_pid("first")
        assert pid_in(lock_file) == first

        start_annotate("second", tmp_path, "notes.txt", python_prelude=NO_MODELS)
        wait_for("second", lambda t: "EXITED" in t, "the second annotator to be refused")
        text = joined_screen("second")
        assert "EXITED 2" in text, text
        errors = [line for line in text.splitlines() if line.startswith("el4ner-local: error:")]
        assert len(errors) == 1, text
        assert f"notes.annotations.jsonl: open in another annotate session (process {first}: " in errors[0]
        assert "fix: quit that session first" in errors[0]

        os.kill(first, signal.SIGKILL)
        wait_for("first", lambda t: "EXITED" in t, "the first annotator to die")
        assert pid_in(lock_file) == first  # stale: its holder is gone

        start_annotate("third", tmp_path, "notes.txt", python_prelude=NO_MODELS)
        assert "EXITED" not in wait_for("third", opened, "the third annotator's interface")
        assert pid_in(lock_file) == annotator_pid("third")
        tmux("send-keys", "-t", "third", "q")
        text = wait_for("third", lambda t: "EXITED" in t, "the third annotator to quit")
        assert "EXITED 0" in text, text
        assert not lock_file.exists()
    finally:
        kill_server()
