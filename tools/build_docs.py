"""Build the static docs site from the notebooks and the outputs kept in them, offline (Sphinx + myst-nb).

    python tools/build_docs.py [--out _build/html] [--src _build/docs_src] [--execute]

Every notebook in nbs/ is passed through nbdev's notebook processing (directives parsed, `#| hide`
cells dropped, directive lines stripped) and Sphinx renders it with the outputs the notebook keeps: nothing
is executed, so the site is only as fresh as the notebooks' outputs (`make outputs`, tools/execute_nbs.py,
writes them). `--execute` runs every notebook again with myst-nb instead (minutes; cells flagged
`#| slow` / `#| gpu` are tagged `skip-execution` and show whatever outputs they keep).
An API reference page documents every exported module with signatures and docstrings (autodoc);
Sphinx's search index and the furo theme give search and navigation.

Everything a page loads is in the site: MathJax 3 comes from the pinned PyPI package
`sphinx-mathjax-offline` (settings.ini `dev_requirements`), copied to `_static/mathjax`, so formulas
render offline; no page references a CDN. Code and outputs wrap at the theme's width (`_static/wrap.css`).
"""
import argparse
import shutil
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).parent))
from nbtools import SKIP_FLAGS, processed_cells  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

CONF = '''
project = "cpsample-nb"
author = "cpsample-nb team"
extensions = ["myst_nb", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode", "sphinx-mathjax-offline"]
mathjax_path = "mathjax/tex-chtml.js"  # the copy that sphinx-mathjax-offline puts in _static/ (never a CDN)
nb_ipywidgets_js = {{}}  # no widget scripts from a CDN
html_static_path = ["_static"]
html_css_files = ["wrap.css"]
html_theme = "furo"
html_title = "cpsample-nb"
nb_execution_mode = "{mode}"
nb_execution_timeout = 1200
nb_execution_raise_on_error = True
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "colon_fence"]
autodoc_member_order = "bysource"
autodoc_default_options = {{"members": True, "undoc-members": False, "show-inheritance": True}}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
suppress_warnings = ["mystnb.unknown_mime_type", "myst.header"]
'''

WRAP_CSS = """/* long code lines and outputs wrap at the page width instead of scrolling sideways */
div.highlight pre, div.cell_output pre, .output pre { white-space: pre-wrap; overflow-wrap: anywhere; }
"""


def exported_modules():
    "Modules of cpsample_nb written by nbdev (every .py except private ones)."
    return sorted(p.stem for p in (ROOT / 'cpsample_nb').glob('*.py') if not p.stem.startswith('_'))


def process_notebook(src: Path, dest: Path):
    "Write a reader's copy of notebook `src` to `dest`: nbdev-processed, with the outputs `src` keeps (slow/gpu cells tagged)."
    cells = []
    for cell, d in processed_cells(src):
        if cell.cell_type == 'code':
            new = nbformat.v4.new_code_cell(cell.source)
            new.outputs = [nbformat.from_dict(dict(o)) for o in cell.get('outputs', [])]
            flags = [f for f in SKIP_FLAGS if f in d]
            if flags: new.metadata['tags'] = ['skip-execution']
            cells.append(new)
        elif cell.cell_type == 'markdown':
            cells.append(nbformat.v4.new_markdown_cell(cell.source))
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'}}
    nbformat.write(nb, dest)


def copy_reports(src_dir: Path) -> list[str]:
    """Copy reports/ (markdown and figures) into the site's sources, with links rewritten for the site's layout
    (notebooks sit at the root there); returns the report pages for the toctree, README (the index) first."""
    dest = src_dir / 'reports'
    shutil.copytree(ROOT / 'reports', dest)  # JSON records too: the reports link them
    pages = []
    for md in sorted(dest.glob('*.md')):
        md.write_text(md.read_text().replace('](../nbs/', '](../'))
        pages.append(f'reports/{md.stem}')
    return sorted(pages, key=lambda p: p != 'reports/README')


def _site_links(nb_path: Path):
    "Rewrite a processed notebook's links to reports/ for the site's layout (the notebooks sit at its root)."
    nb = nbformat.read(nb_path, as_version=4)
    for c in nb.cells:
        if c.cell_type == 'markdown': c.source = c.source.replace('](../reports/', '](reports/')
    nbformat.write(nb, nb_path)


def write_sources(src_dir: Path, mode: str):
    if src_dir.exists(): shutil.rmtree(src_dir)
    src_dir.mkdir(parents=True)
    (src_dir / 'conf.py').write_text(CONF.format(mode=mode))
    (src_dir / '_static').mkdir()
    (src_dir / '_static' / 'wrap.css').write_text(WRAP_CSS)
    if (ROOT / 'nbs' / 'images').is_dir(): shutil.copytree(ROOT / 'nbs' / 'images', src_dir / 'images')  # figures the notebooks' markdown shows
    nbs = sorted(p for p in (ROOT / 'nbs').glob('*.ipynb') if p.stem != 'index')
    process_notebook(ROOT / 'nbs' / 'index.ipynb', src_dir / 'index.ipynb')
    for nb in nbs: process_notebook(nb, src_dir / nb.name)
    reports = copy_reports(src_dir)
    for nb in [*nbs, ROOT / 'nbs' / 'index.ipynb']: _site_links(src_dir / nb.name)
    api = ['# API reference', '', 'Everything `nbdev_export` writes into `cpsample_nb`, with signatures and docstrings.', '']
    for m in exported_modules():
        api += [f'## `cpsample_nb.{m}`', '', '```{eval-rst}', f'.. automodule:: cpsample_nb.{m}', '```', '']
    (src_dir / 'api.md').write_text('\n'.join(api))
    toc = ['', '```{toctree}', ':maxdepth: 1', ':caption: Notebooks', ''] + [nb.stem for nb in nbs]
    toc += ['```', '', '```{toctree}', ':maxdepth: 1', ':caption: Reports (every measured number)', ''] + reports
    toc += ['```', '', '```{toctree}', ':maxdepth: 2', ':caption: Reference', '', 'api', '```', '']
    nb = nbformat.read(src_dir / 'index.ipynb', as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell('\n'.join(toc)))
    nbformat.write(nb, src_dir / 'index.ipynb')


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT / '_build' / 'html'), help='where the HTML site goes')
    ap.add_argument('--src', default=str(ROOT / '_build' / 'docs_src'), help='scratch folder for processed sources')
    ap.add_argument('--execute', action='store_true', help='execute every notebook again (minutes) instead of '
                    'rendering the outputs the notebooks keep')
    a = ap.parse_args(argv)
    from sphinx.cmd.build import build_main
    src = Path(a.src)
    write_sources(src, 'force' if a.execute else 'off')
    rc = build_main(['-b', 'html', '-q', str(src), a.out])
    if rc == 0: print(f'docs site written to {a.out}/index.html')
    return rc


if __name__ == '__main__':
    sys.exit(main())
