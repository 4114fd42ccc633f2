"""The package, the README and the notebooks agree: `nbdev_export` and the README builder change nothing."""
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, tool


def test_nbdev_export_changes_nothing(tmp_path):
    "A hand-edited module, or a notebook change that was never exported, fails here."
    for name in ('settings.ini', 'setup.py'): shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / 'nbs', tmp_path / 'nbs')
    shutil.copytree(ROOT / 'cpsample_nb', tmp_path / 'cpsample_nb', ignore=shutil.ignore_patterns('__pycache__', 'assets'))
    before = {p.relative_to(tmp_path): p.read_text() for p in (tmp_path / 'cpsample_nb').rglob('*.py')}
    subprocess.run([tool('nbdev_export')], cwd=tmp_path, check=True, capture_output=True)
    after = {p.relative_to(tmp_path): p.read_text() for p in (tmp_path / 'cpsample_nb').rglob('*.py')}
    assert sorted(after) == sorted(before), f'nbdev_export would add or remove modules: {sorted(set(after) ^ set(before))}'
    changed = [str(k) for k in before if before[k] != after[k]]
    assert not changed, f'cpsample_nb/ differs from the notebooks in {changed}: edit nbs/ and run `make export`'


def test_readme_is_generated_from_index():
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'build_readme.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_readme_check_catches_a_stale_readme(tmp_path):
    stale = tmp_path / 'README.md'
    stale.write_text((ROOT / 'README.md').read_text().replace('make test', 'make tests'))
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'build_readme.py'), '--check', '--readme', str(stale)], capture_output=True, text=True)
    assert r.returncode == 1 and 'stale' in r.stdout
