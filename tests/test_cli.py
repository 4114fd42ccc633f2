"""The `cpsample` console script as a user runs it."""
import json
import subprocess

from conftest import tool


def run(*args):
    return subprocess.run([tool('cpsample'), *args], capture_output=True, text=True)


def test_help_lists_the_commands():
    r = run('--help')
    assert r.returncode == 0 and 'demo' in r.stdout


def test_no_command_prints_help_and_fails():
    r = run()
    assert r.returncode == 2 and 'usage: cpsample' in r.stdout


def test_demo_quick_writes_results_report_and_pngs(tmp_path):
    out = tmp_path / 'demo'
    r = run('demo', '--quick', '--out', str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / 'results.json').read_text())
    assert res['dataset']['n_protected'] + res['dataset']['n_heldout_faces'] == 100 and res['dataset']['image_shape'] == [1, 16, 16]
    assert res['permutation']['k'] == res['dataset']['n_protected']  # 64 quick samples cover S
    assert 0 <= res['permutation_p_ddim'] <= 1 and 0 <= res['permutation_p_cpsample'] <= 1
    assert res['meta']['quick'] is True and res['meta']['wall_time_s'] > 0
    assert '## dataset' in (out / 'report.md').read_text()
    pngs = sorted(p.name for p in out.glob('*.png'))
    assert 'protected_set.png' in pngs
    assert (out / 'protected_set.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_demo_bad_size_is_a_clear_error(tmp_path):
    r = run('demo', '--quick', '--size', '0', '--out', str(tmp_path / 'x'))
    assert r.returncode == 1
    assert 'size must be a positive integer' in r.stderr


def test_demo_bad_alpha_is_a_clear_error(tmp_path):
    r = run('demo', '--quick', '--alpha', '0.9', '--out', str(tmp_path / 'x'))
    assert r.returncode == 1 and 'alpha must be in (0, 0.5]' in r.stderr
    assert not (tmp_path / 'x').exists()
