import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    "Path of a console script installed beside the running Python (the project's venv)."
    p = VENV_BIN / name
    return str(p) if p.exists() else (shutil.which(name) or name)


@pytest.fixture
def root():
    return ROOT


def test_flags():
    "Notebook flags switched on for this run (`make test FLAGS='slow gpu'`)."
    return os.environ.get('CPSAMPLE_TEST_FLAGS', '').replace(',', ' ').split()
