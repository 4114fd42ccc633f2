"""Notebook processing shared by the README and docs builders (offline stand-ins for Quarto).

Both read notebooks through nbdev's `NBProcessor`, which parses the `#|` directives, and then:
drop cells marked `#| hide`, strip directive lines from what a reader sees, and tag cells flagged
`#| slow` / `#| gpu` so the docs build does not execute them.
"""
from pathlib import Path

from nbdev.process import NBProcessor

SKIP_FLAGS = ('slow', 'gpu')

# What must not show in a kept or rendered output: warnings, tracebacks, temporary and machine paths
# (tools/execute_nbs.py refuses to keep such outputs; tests/test_docs.py checks the rendered pages).
NOISE = [r'Traceback \(most recent call last\)', r'\b\w*Warning\b', r'\bwarn\(', r'(?<![\w/])/tmp/', r'site-packages', r'\.venv\b',
         r'/home/\w', r'/root/']


def _strip_directives(source: str) -> str:
    lines = [l for l in source.splitlines() if not l.lstrip().startswith('#|')]
    return '\n'.join(lines).strip('\n')


def processed_cells(nb_path):
    """Yield (cell, directives) for the cells of `nb_path` a reader should see, directives stripped."""
    nb = NBProcessor(Path(nb_path), procs=[], process=True).nb
    for cell in nb.cells:
        d = getattr(cell, 'directives_', {}) or {}
        if 'hide' in d or 'default_exp' in d: continue
        if cell.cell_type == 'code':
            cell.source = _strip_directives(cell.source)
            if not cell.source.strip(): continue
        yield cell, d


def readme_text(index_nb) -> str:
    """Markdown for README.md from `index_nb`: markdown cells as they are, code cells fenced."""
    parts = ['<!-- Generated from nbs/index.ipynb by tools/build_readme.py: edit the notebook, not this file. -->']
    for cell, _ in processed_cells(index_nb):
        if cell.cell_type == 'markdown': parts.append(cell.source.strip())
        elif cell.cell_type == 'code': parts.append('```python\n' + cell.source + '\n```')
    return '\n\n'.join(parts) + '\n'
