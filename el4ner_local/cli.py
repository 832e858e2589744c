"""The el4ner-local command line: the Typer app, the commands (commands/, one module each) mounted on
it, and main(), the safety net that turns a user's mistake into one line on stderr.

Heavy imports (llama_cpp, sentence_transformers, textual, ray) happen inside commands, never at start-up.
"""

from __future__ import annotations

import sys

import typer

from .commands.annotate import annotate
from .commands.eval import eval_command
from .commands.index import index_app
from .commands.models import models_app
from .commands.tag import tag
from .errors import UserError, from_os_error, say_error

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Offline named entity recognition with an ensemble of small LLMs (EL4NER).",
)
app.add_typer(models_app, name="models")
app.add_typer(index_app, name="index")
app.command("eval")(eval_command)
app.command("tag")(tag)
app.command("annotate")(annotate)


def main() -> None:
    """Console entry point: user mistakes become one line on stderr and a non-zero exit."""
    try:
        app()
    except UserError as exc:
        say_error(exc.one_line())
        sys.exit(exc.exit_code)
    except OSError as exc:  # the safety net: a file problem is the user's to fix, never a traceback
        error = from_os_error(exc)
        say_error(error.one_line())
        sys.exit(error.exit_code)


if __name__ == "__main__":
    main()
