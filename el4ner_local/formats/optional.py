"""The formats that need a library el4ner-local does not install by default: spaCy for DocBin files,
Hugging Face `datasets` for saved datasets. Each is imported only when its format is used; a missing
one is one error line naming the pip command."""

from __future__ import annotations

import importlib

from el4ner_local.errors import UserError

EXTRAS = {"spacy": "spacy", "datasets": "hf"}  # module -> the extra of pyproject.toml that installs it


def require(module: str, why: str):
    """Import `module` (e.g. "spacy") or raise a UserError saying how to install it; `why` names the use."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRAS[module.split(".")[0]]
        raise UserError(
            f"{why} needs the {module.split('.')[0]} package, which is not installed",
            fix=f"pip install -e '.[{extra}]' (or pip install 'el4ner-local[{extra}]')",
        ) from None
