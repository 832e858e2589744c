"""Ctrl-C tests send SIGINT to a real child process. A shell starts background jobs (`cmd &`,
nohup) with SIGINT ignored, the child inherits that, and Python then installs no KeyboardInterrupt
handler, so the signal would do nothing. Children started with `preexec_fn=default_sigint` get the
default disposition back, as in an interactive terminal."""

from __future__ import annotations

import signal


def default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
