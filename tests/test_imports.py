"""The notebooks' order is the dependency order: no module or notebook imports from a later notebook."""
import json
import re

from conftest import ROOT

NBS = sorted(p for p in (ROOT / 'nbs').glob('*.ipynb') if p.stem != 'index')  # in name order, the package's order


def _module_of(nb) -> str | None:
    for c in json.loads(nb.read_text())['cells']:
        m = re.search(r'#\|\s*default_exp\s+(\S+)', ''.join(c['source']))
        if m: return m.group(1)
    return None


ORDER = {_module_of(nb): (i, nb.stem) for i, nb in enumerate(NBS) if _module_of(nb)}


def _imports(text: str) -> set:
    found = re.findall(r'(?:from|import)\s+(?:cpsample_nb\.|\.)([a-z_]+)', text)
    return {m for m in found if m in ORDER}


def test_every_module_comes_from_a_notebook():
    assert {'data', 'theory', 'sampler', 'experiments', 'cli'} <= set(ORDER)


def test_no_module_imports_a_later_notebook():
    bad = []
    for mod, (i, stem) in ORDER.items():
        path = ROOT / 'cpsample_nb' / f'{mod}.py'
        for dep in _imports(path.read_text()):
            if ORDER[dep][0] > i: bad.append(f"cpsample_nb/{mod}.py ({stem}) imports {dep} ({ORDER[dep][1]})")
    assert not bad, bad


def test_no_notebook_cell_imports_a_later_notebook():
    bad = []
    for i, nb in enumerate(NBS):
        for c in json.loads(nb.read_text())['cells']:
            if c['cell_type'] != 'code': continue
            for dep in _imports(''.join(c['source'])):
                if ORDER[dep][0] > i: bad.append(f"{nb.name} cell {c.get('id')} imports {dep} ({ORDER[dep][1]})")
    assert not bad, bad


def test_cli_is_the_top():
    users = [m for m in ORDER if m != 'cli' and 'cli' in _imports((ROOT / 'cpsample_nb' / f'{m}.py').read_text())]
    assert not users, users
