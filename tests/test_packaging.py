"""Packaging: what the code imports is declared, and the console script is installed."""
import ast
import configparser
import re
import sys
from pathlib import Path

from conftest import ROOT, VENV_BIN

# import name -> distribution name, where they differ
DIST = {'PIL': 'pillow', 'skimage': 'scikit-image', 'sklearn': 'scikit-learn', 'faiss': 'faiss-cpu', 'yaml': 'pyyaml', 'torch_fidelity': 'torch-fidelity', 'open_clip': 'open_clip_torch'}


def _requirements():
    cfg = configparser.ConfigParser(delimiters=['='])
    cfg.read(ROOT / 'settings.ini')
    return {re.split(r'[<>=!\[ ]', r)[0].lower() for r in cfg['DEFAULT']['requirements'].split()}


def _imports():
    names = set()
    for f in (ROOT / 'cpsample_nb').glob('*.py'):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Import): names |= {a.name.split('.')[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module: names.add(node.module.split('.')[0])
    return names - set(sys.stdlib_module_names) - {'cpsample_nb', '__future__'}


def test_every_third_party_import_is_a_declared_requirement():
    reqs = _requirements()
    missing = sorted(DIST.get(m, m).lower() for m in _imports() if DIST.get(m, m).lower() not in reqs)
    assert not missing, f'imported by cpsample_nb but not in settings.ini requirements: {missing}'


def test_console_script_installed():
    assert (VENV_BIN / 'cpsample').exists()


def test_version_matches_settings():
    import cpsample_nb
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT / 'settings.ini')
    assert cpsample_nb.__version__ == cfg['DEFAULT']['version']
