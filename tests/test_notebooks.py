"""Every notebook in nbs/ runs as a test (nbdev's `test_nb`), one pytest test per notebook.

Cells flagged `#| slow` or `#| gpu` (settings.ini `tst_flags`) are skipped unless switched on with
`make test FLAGS="slow gpu"` (environment variable CPSAMPLE_TEST_FLAGS).
"""
import os
from pathlib import Path

import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_nb

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / 'nbs').glob('*.ipynb'))


def _flags():
    skip = get_config(path=ROOT).get('tst_flags', '').split()
    force = os.environ.get('CPSAMPLE_TEST_FLAGS', '').replace(',', ' ').split()
    return skip, force


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 4, NOTEBOOKS


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook(nb, capsys):
    skip, force = _flags()
    ok, secs = run_nb(nb, skip_flags=skip, force_flags=force, basepath=ROOT)
    err = capsys.readouterr().err
    assert ok, f'{nb.name} failed after {secs:.1f}s:\n{err[-6000:]}'
