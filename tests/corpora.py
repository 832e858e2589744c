"""Where the shared real corpora are: $EL4NER_SHARED_DATA, else ../shared/data beside the
repository, else /work/shared/data. Their absence fails the tests that need them (no silent skip)."""

import os
from pathlib import Path

import pytest


def shared_data() -> Path:
    candidates = [Path(p) for p in [os.environ.get("EL4NER_SHARED_DATA", "")] if p]
    candidates += [Path(__file__).resolve().parents[1].parent / "shared" / "data", Path("/work/shared/data")]
    for path in candidates:
        if (path / "wnut17").is_dir():
            return path
    pytest.fail(f"the shared corpora are not at any of {[str(c) for c in candidates]}; set EL4NER_SHARED_DATA")
