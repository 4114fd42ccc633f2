"""The outputs the notebooks keep (written by `make outputs`, tools/execute_nbs.py) are what the docs site and the
repository page show: they are clean (no warnings, tracebacks, errors or paths of the machine that made them),
cleaned as `nbdev_clean` leaves them, and small. That each figure a notebook draws is kept is checked where the
notebook runs (tests/test_notebooks.py)."""
import base64
import json
import sys
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / 'tools'))
from execute_nbs import clean, image_bytes, noise  # noqa: E402

NOTEBOOKS = sorted((ROOT / 'nbs').glob('*.ipynb'))
MAX_IMAGE_BYTES = 300_000  # the kept figures of one notebook, in all (PNG at 72 dpi: 00_data's three are ~150 KB)


def _nb(path: Path) -> dict:
    return json.loads(path.read_text(encoding='utf-8'))


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_kept_outputs_are_clean_and_small(nb):
    d = _nb(nb)
    errors = [i for i, c in enumerate(d['cells']) for o in c.get('outputs', []) if o.get('output_type') == 'error']
    assert not errors, f'{nb.name} keeps error outputs in cells {errors}: fix the cell and run `make outputs`'
    found = noise(d, paths={ROOT, Path.home()} - {Path('/')})
    assert not found, f'{nb.name} keeps noisy outputs:\n' + '\n'.join(found[:10])
    size = sum(image_bytes(c.get('outputs', [])) for c in d['cells'])
    assert size < MAX_IMAGE_BYTES, f'{nb.name} keeps {size} bytes of images (at most {MAX_IMAGE_BYTES}): draw fewer or smaller figures'
    for c in d['cells']:
        for o in c.get('outputs', []):
            for mime, v in (o.get('data') or {}).items():
                if mime in ('image/png', 'image/jpeg'): base64.b64decode(''.join(v), validate=True)  # not truncated


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_are_nbdev_clean(nb):
    "No execution counts, cell metadata or object ids in the committed notebooks (`make export` / `make outputs`)."
    from execnb.nbio import nb2str, read_nb
    text = nb.read_text(encoding='utf-8')
    assert nb2str(clean(read_nb(nb))) == text, f'{nb.name} is not clean: run `make export` (nbdev_clean)'


def _tiny_nb(path: Path, *sources: str):
    from execnb.nbio import mk_cell, new_nb, write_nb
    write_nb(new_nb([mk_cell(s) for s in sources], meta={'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}}), path)


def _run_tool(*nbs):
    import subprocess
    return subprocess.run([sys.executable, str(ROOT / 'tools' / 'execute_nbs.py'), *map(str, nbs)], capture_output=True, text=True, cwd=ROOT)


def test_execute_nbs_keeps_outputs_and_skips_flagged_cells(tmp_path):
    nb = tmp_path / 'tiny.ipynb'
    _tiny_nb(nb, 'import warnings, matplotlib.pyplot as plt\nprint("hello")', 'warnings.warn("noise")\nplt.plot([1, 2, 3]);',
             '#| slow\nprint("slow")', '6 * 7')
    r = _run_tool(nb)
    assert r.returncode == 0, r.stdout + r.stderr
    cells = _nb(nb)['cells']
    assert [''.join(o['text']) for o in cells[0]['outputs']] == ['hello\n']
    imgs = [o for o in cells[1]['outputs'] if 'image/png' in o.get('data', {})]
    assert len(imgs) == 1 and len(cells[1]['outputs']) == 1, cells[1]['outputs']  # the figure, and no warning
    assert 0 < image_bytes(imgs) < 30_000
    assert cells[2]['outputs'] == []  # flagged #| slow: not run, no output
    assert cells[3]['outputs'][0]['data']['text/plain'] == ['42'] and cells[3]['execution_count'] is None
    before = nb.read_text()
    assert _run_tool(nb).returncode == 0 and nb.read_text() == before  # a second run changes nothing


def test_execute_nbs_leaves_a_failing_notebook_unchanged(tmp_path):
    nb = tmp_path / 'bad.ipynb'
    _tiny_nb(nb, 'print(1)', 'raise ValueError("boom")')
    before = nb.read_text()
    r = _run_tool(nb)
    assert r.returncode == 1 and 'boom' in r.stderr, r.stdout + r.stderr
    assert nb.read_text() == before
    _tiny_nb(nb, 'print("/tmp/x")')  # a temporary path in an output: refused too
    before = nb.read_text()
    r = _run_tool(nb)
    assert r.returncode == 1 and '/tmp/' in r.stderr and nb.read_text() == before, r.stdout + r.stderr
