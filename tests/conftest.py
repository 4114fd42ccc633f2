import os
import shutil
import sys
from pathlib import Path

import pytest

# One torch thread pool per core, not per test process: xdist runs several workers, and each worker (and every
# `cpsample` or notebook kernel it starts, which inherit the variable) would otherwise start one thread per core.
# On 2 cores, two `cpsample demo --quick` at once took 119 s against 20.6 s alone. Set before anything imports torch.
_WORKERS = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1'))
os.environ.setdefault('OMP_NUM_THREADS', str(max(1, (os.cpu_count() or 1) // _WORKERS)))

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


def pytest_addoption(parser, pluginmanager):
    "With xdist switched off (`-p no:xdist`, one process), accept and ignore pytest.ini's `-n 2 --dist loadgroup`."
    if not pluginmanager.has_plugin('xdist'):
        group = parser.getgroup('xdist', 'xdist is switched off (-p no:xdist): these are accepted and ignored')
        group._addoption('-n', '--numprocesses', dest='numprocesses', default=None)
        group._addoption('--dist', dest='dist', default='no')


def pytest_configure(config):
    if not config.pluginmanager.has_plugin('xdist'):
        config.addinivalue_line('markers', 'xdist_group(name): tests xdist keeps on one worker (ignored without xdist)')
