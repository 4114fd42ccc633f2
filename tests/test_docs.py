"""The docs site builds offline from the notebooks, with pages, an API entry and search; it loads nothing
from the network, its formulas are typeset (headless Chromium), and its rendered outputs are clean."""
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

# One build for the whole module, kept on one xdist worker where loadgroup honours it; the fixture shares it anyway.
pytestmark = pytest.mark.xdist_group('docs')


@pytest.fixture(scope='module')
def site(tmp_path_factory, worker_id):
    "Build the site once per test session (it executes every notebook: minutes); xdist workers share that one build."
    from filelock import FileLock
    root = tmp_path_factory.getbasetemp() if worker_id == 'master' else tmp_path_factory.getbasetemp().parent
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
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        assert (out / f'{nb.stem}.html').exists(), f'no page for {nb.name}'
    api = (out / 'api.html').read_text()
    assert 'cpsample_nb.data.load_faces' in api and 'The 100 LFW faces' in api  # signature id and docstring
    assert (out / 'searchindex.js').exists() and (out / 'search.html').exists()
    data = (out / '00_data.html').read_text()
    assert 'leave-one-out nearest-neighbour cosine on faces' in data  # executed: the cell's printed output is there
    assert '<img' in data  # and its figures
    assert '00_data.html' in (out / 'index.html').read_text()  # navigation from the index


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
    for page in pages(site):
        p = _Refs(); p.feed(page.read_text())
        for tag, url in p.urls:
            if re.match(r'(https?:)?//', url): remote.append(f"{page.relative_to(site)}: <{tag}> {url}")
            elif not url.startswith('data:'):
                target = (page.parent / url.split('?')[0].split('#')[0]).resolve()
                if not target.exists(): missing.append(f"{page.relative_to(site)}: <{tag}> {url}")
    assert not remote, remote[:10]
    assert not missing, missing[:10]
    for css in site.rglob('*.css'):
        assert not re.search(r'@import\s+(url\()?["\']?(https?:)?//', css.read_text(errors='replace')), css
    sampler = (site / '03_sampler.html').read_text()
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
    page = site / '03_sampler.html'
    assert r'\alpha' in page.read_text()  # the page's source has LaTeX...
    dom = dump_dom(page)
    n = dom.count('<mjx-container')
    assert n >= 20, f"MathJax typeset {n} formulas on the sampler page"  # ...which MathJax turned into typeset math
    assert 'mjx-c' in dom  # glyphs from MathJax's CHTML output
    assert '<mjx-merror' not in dom, 'MathJax could not parse a formula'


class _Outputs(HTMLParser):
    "The text of every rendered cell output (myst-nb's div.cell_output)."
    def __init__(self):
        super().__init__(); self.depth = 0; self.texts = []

    def handle_starttag(self, tag, attrs):
        if self.depth: self.depth += tag == 'div'
        elif tag == 'div' and 'cell_output' in (dict(attrs).get('class') or ''): self.depth = 1; self.texts.append('')

    def handle_endtag(self, tag):
        if self.depth and tag == 'div': self.depth -= 1

    def handle_data(self, data):
        if self.depth: self.texts[-1] += data


NOISE = [r'Traceback \(most recent call last\)', r'\b\w*Warning\b', r'\bwarn\(', r'(?<![\w/])/tmp/', r'site-packages', r'\.venv\b',
         r'/home/\w', r'/root/']


def test_rendered_outputs_are_clean(site):
    "No warnings, tracebacks or paths of the build machine in any page's outputs (and the repo's path nowhere)."
    found = []
    for page in pages(site):
        html = page.read_text()
        if str(ROOT) in html: found.append(f"{page.relative_to(site)}: the build machine's path {ROOT}")
        p = _Outputs(); p.feed(html)
        for text in p.texts:
            for pat in NOISE:
                if m := re.search(pat, text):
                    found.append(f"{page.relative_to(site)}: {text[max(0, m.start() - 80):m.end() + 80]!r}")
    assert not found, '\n'.join(found[:20])


def test_code_wraps_at_the_page_width(site):
    css = (site / '_static' / 'wrap.css').read_text()
    assert 'white-space: pre-wrap' in css
    assert '_static/wrap.css' in (site / '03_sampler.html').read_text()
