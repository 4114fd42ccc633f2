"""The docs site builds offline from the notebooks and the outputs they keep (nothing is executed: seconds), with
pages, an API entry and search; it loads nothing from the network, its formulas are typeset (headless Chromium),
its rendered outputs are clean, and it shows the figures the notebooks keep.

Pages are found from the notebooks, not by file name (notebooks get renumbered): `page('sampler')` is the page of
the notebook whose `#| default_exp` is `sampler`."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / 'tools'))
from nbtools import NOISE  # noqa: E402

# How many notebooks draw figures in their default run and keep them (measured: those exporting data, sampler,
# evaluation, stable_diffusion and side): the site shows at least that many pages with figures. Raise it when
# another notebook's figures are kept (classifier, denoiser and experiments draw some after a `matplotlib.use('Agg')`
# in the package, which stops the inline backend from showing them).
FIGURE_NOTEBOOKS = 5

# One build for the whole module, kept on one xdist worker where loadgroup honours it; the fixture shares it anyway.
pytestmark = pytest.mark.xdist_group('docs')


def test_the_docs_tests_share_one_worker(request):
    "Under xdist's loadgroup every test of this module runs on one worker, so the site is built once and no worker"
    "idles on the build's lock. (pytest 9 with xdist 3.8 drops the group silently: settings.ini pins pytest < 9.)"
    if request.config.getoption('loadgroup', False):  # set on the workers of `--dist loadgroup`
        assert request.node.nodeid.endswith('@docs'), request.node.nodeid


def notebooks() -> list[Path]:
    return sorted((ROOT / 'nbs').glob('*.ipynb'))


def _cells(nb: Path) -> list[dict]:
    return json.loads(nb.read_text(encoding='utf-8'))['cells']


def notebook_of(module: str) -> Path:
    "The notebook whose `#| default_exp` is `module`."
    found = [nb for nb in notebooks() for c in _cells(nb) if c['cell_type'] == 'code'
             and re.search(rf'^#\|\s*default_exp\s+{re.escape(module)}\s*$', ''.join(c['source']), re.M)]
    assert len(found) == 1, f'notebooks with `#| default_exp {module}`: {found}'
    return found[0]


def page(site: Path, module: str) -> Path:
    "The page built from the notebook that exports `module`."
    return site / f'{notebook_of(module).stem}.html'


def kept_figures(nb: Path) -> int:
    "How many image outputs notebook `nb` keeps."
    return sum(1 for c in _cells(nb) for o in c.get('outputs', []) if any(k.startswith('image/') for k in o.get('data', {})))


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "Build the site once per test session from the kept outputs (seconds); xdist workers share that one build."
    from filelock import FileLock
    worker = os.environ.get('PYTEST_XDIST_WORKER')  # set in an xdist worker; not with -n0 or -p no:xdist
    root = tmp_path_factory.getbasetemp().parent if worker else tmp_path_factory.getbasetemp()
    out, log = root / 'docs_site' / 'html', root / 'docs_site' / 'build.log'
    with FileLock(str(root / 'docs_site.lock')):  # the first worker builds, the others wait and read its result
        if not log.exists():
            log.parent.mkdir(parents=True, exist_ok=True)
            r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'build_docs.py'), '--out', str(out), '--src', str(root / 'docs_site' / 'src')],
                               capture_output=True, text=True, cwd=ROOT)
            log.write_text(f"{r.returncode}\n" + (r.stdout + r.stderr)[-4000:])
    code, _, text = log.read_text().partition('\n')
    assert code == '0', text
    return out


def pages(site) -> list[Path]:
    return sorted(p for p in site.rglob('*.html'))


def test_docs_site_builds(site):
    out = site
    for nb in notebooks():
        assert (out / f'{nb.stem}.html').exists(), f'no page for {nb.name}'
    assert 'nb_execution_mode = "off"' in (out.parent / 'src' / 'conf.py').read_text()  # built from kept outputs
    api = (out / 'api.html').read_text()
    assert 'cpsample_nb.data.load_faces' in api and 'The 100 LFW faces' in api  # signature id and docstring
    assert (out / 'searchindex.js').exists() and (out / 'search.html').exists()
    data = page(out, 'data')
    text = data.read_text()
    assert 'leave-one-out nearest-neighbour cosine on faces' in text  # the cell's kept printed output is there
    assert data.name in (out / 'index.html').read_text()  # navigation from the index


class _Refs(HTMLParser):
    "Every URL a page loads: scripts, stylesheets and other <link>s, images, frames."
    def __init__(self):
        super().__init__(); self.urls = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ('script', 'img', 'iframe', 'source') and a.get('src'): self.urls.append((tag, a['src']))
        if tag == 'link' and a.get('href') and a.get('rel') not in ('canonical', 'next', 'prev', 'index', 'search'):
            self.urls.append((tag, a['href']))


def test_no_page_loads_anything_from_the_network(site):
    remote, missing = [], []
    for html in pages(site):
        p = _Refs(); p.feed(html.read_text())
        for tag, url in p.urls:
            if re.match(r'(https?:)?//', url): remote.append(f"{html.relative_to(site)}: <{tag}> {url}")
            elif not url.startswith('data:'):
                target = (html.parent / url.split('?')[0].split('#')[0]).resolve()
                if not target.exists(): missing.append(f"{html.relative_to(site)}: <{tag}> {url}")
    assert not remote, remote[:10]
    assert not missing, missing[:10]
    for css in site.rglob('*.css'):
        assert not re.search(r'@import\s+(url\()?["\']?(https?:)?//', css.read_text(errors='replace')), css
    sampler = page(site, 'sampler').read_text()
    assert re.search(r'<script[^>]+src="_static/mathjax/tex-chtml\.js', sampler), 'the sampler page does not load the local MathJax'
    assert (site / '_static' / 'mathjax' / 'output' / 'chtml' / 'fonts' / 'woff-v2').is_dir()  # MathJax's fonts travel too


def chromium() -> str | None:
    return shutil.which('chromium') or shutil.which('chromium-browser')


def dump_dom(page: Path) -> str:
    "The page's DOM after its scripts ran, from headless Chromium with every network feature off."
    with tempfile.TemporaryDirectory() as profile:
        r = subprocess.run([chromium(), '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
                            '--disable-component-update', '--disable-sync', '--no-first-run', f'--user-data-dir={profile}',
                            '--virtual-time-budget=20000', '--dump-dom', page.as_uri()],
                           capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


@pytest.mark.skipif(chromium() is None, reason="headless Chromium is not installed: `apt-get install -y chromium` "
                                               "(make test installs it when run as root on Debian)")
def test_formulas_on_the_sampler_page_are_typeset(site):
    sampler = page(site, 'sampler')
    assert r'\alpha' in sampler.read_text()  # the page's source has LaTeX...
    dom = dump_dom(sampler)
    n = dom.count('<mjx-container')
    assert n >= 20, f"MathJax typeset {n} formulas on the sampler page"  # ...which MathJax turned into typeset math
    assert 'mjx-c' in dom  # glyphs from MathJax's CHTML output
    assert '<mjx-merror' not in dom, 'MathJax could not parse a formula'


class _Outputs(HTMLParser):
    "The text of every rendered cell output (myst-nb's div.cell_output), and the images in them."
    def __init__(self):
        super().__init__(); self.depth = 0; self.texts = []; self.imgs = []

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += tag == 'div'
            if tag == 'img': self.imgs.append(dict(attrs).get('src', ''))
        elif tag == 'div' and 'cell_output' in (dict(attrs).get('class') or ''): self.depth = 1; self.texts.append('')

    def handle_endtag(self, tag):
        if self.depth and tag == 'div': self.depth -= 1

    def handle_data(self, data):
        if self.depth: self.texts[-1] += data


def test_rendered_outputs_are_clean(site):
    "No warnings, tracebacks or paths of the build machine in any page's outputs (and the repo's path nowhere)."
    found = []
    for f in pages(site):
        html = f.read_text()
        if str(ROOT) in html: found.append(f"{f.relative_to(site)}: the build machine's path {ROOT}")
        p = _Outputs(); p.feed(html)
        for text in p.texts:
            for pat in NOISE:
                if m := re.search(pat, text):
                    found.append(f"{f.relative_to(site)}: {text[max(0, m.start() - 80):m.end() + 80]!r}")
    assert not found, '\n'.join(found[:20])


def test_code_wraps_at_the_page_width(site):
    css = (site / '_static' / 'wrap.css').read_text()
    assert 'white-space: pre-wrap' in css
    assert '_static/wrap.css' in page(site, 'sampler').read_text()


def test_pages_show_the_kept_figures(site):
    "Each notebook that keeps a figure shows it as an image among its page's outputs, and there are such notebooks."
    with_figures = [nb for nb in notebooks() if kept_figures(nb)]
    assert len(with_figures) >= FIGURE_NOTEBOOKS, (
        f'only {[nb.name for nb in with_figures]} keep figures (expected {FIGURE_NOTEBOOKS}): '
        'run `make outputs` and commit the notebooks with their outputs')
    shown = []
    for nb in notebooks():
        p = _Outputs(); p.feed((site / f'{nb.stem}.html').read_text())
        if p.imgs: shown.append(nb.stem)
        for src in p.imgs: assert src.startswith('data:') or (site / src).is_file(), f'{nb.stem}.html: missing {src}'
    missing = [nb.stem for nb in with_figures if nb.stem not in shown]
    assert not missing, f'pages without the figures their notebooks keep: {missing}'
    assert len(shown) >= FIGURE_NOTEBOOKS, shown
