"""Every notebook in nbs/ runs as a test, one pytest test per notebook, and keeps the figures it draws.

A notebook runs as nbdev's `test_nb` runs it (execnb's CaptureShell after nbdev's processing), through
tools/execute_nbs.py's `execute`, the function `make outputs` uses to write the outputs the docs show; so a
notebook that passes here is one `make outputs` can execute. Cells flagged `#| slow` or `#| gpu` (settings.ini
`tst_flags`) are skipped unless switched on with `make test FLAGS="slow gpu"` (environment variable CPSAMPLE_TEST_FLAGS).

Each cell that draws a figure in the default run must keep an image output in the committed notebook: the docs
site and the repository page show the kept outputs, and a notebook committed without them (or before the cell
that draws was added) shows none. `make outputs` writes them.
"""
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / 'nbs').glob('*.ipynb'))
sys.path.insert(0, str(ROOT / 'tools'))
from execute_nbs import execute  # noqa: E402


def _force_flags():
    return os.environ.get('CPSAMPLE_TEST_FLAGS', '').replace(',', ' ').split()


def _flagged(cell) -> bool:
    "A cell flagged with one of settings.ini's `tst_flags` (`make outputs` does not run it)."
    from nbdev.config import get_config
    flags = get_config(path=ROOT).get('tst_flags', '').split()
    return any(re.match(rf'\s*#\|\s*{f}\b', line) for line in cell.source.splitlines() for f in flags)


def _has_image(cell) -> bool:
    return any(k.startswith('image/') for o in cell.get('outputs', []) for k in (o.get('data') or {}))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4, NOTEBOOKS


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(nb):
    from execnb.nbio import read_nb
    try:
        fresh, secs = execute(nb, _force_flags())
    except RuntimeError as e:
        pytest.fail(f'{nb.name} failed:\n{str(e)[-6000:]}', pytrace=False)
    if fresh is None: return  # skip_exec
    kept = [c for c in read_nb(nb).cells if c.cell_type == 'code']
    ran = [c for c in fresh.cells if c.cell_type == 'code']
    missing = [i for i, (k, r) in enumerate(zip(kept, ran)) if _has_image(r) and not _has_image(k) and not _flagged(k)]
    assert not missing, (f'{nb.name}: code cells {missing} (counting code cells from 0) draw a figure but the committed notebook keeps no image '
                         f'for them: run `make outputs` (or `python tools/execute_nbs.py nbs/{nb.name}`) and commit it')
