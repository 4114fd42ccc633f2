"""The docs site builds offline from the notebooks, with pages, an API entry and search."""
import subprocess
import sys

from conftest import ROOT


def test_docs_site_builds(tmp_path):
    out = tmp_path / 'html'
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'build_docs.py'), '--out', str(out), '--src', str(tmp_path / 'src')],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        assert (out / f'{nb.stem}.html').exists(), f'no page for {nb.name}'
    api = (out / 'api.html').read_text()
    assert 'cpsample_nb.data.load_faces' in api and 'The 100 LFW faces' in api  # signature id and docstring
    assert (out / 'searchindex.js').exists() and (out / 'search.html').exists()
    data = (out / '00_data.html').read_text()
    assert 'leave-one-out nearest-neighbour cosine on faces' in data  # executed: the cell's printed output is there
    assert '<img' in data  # and its figures
    assert '00_data.html' in (out / 'index.html').read_text()  # navigation from the index
