"""`cpsample attack-side` (cpsample_nb.side_attack.main) as a user runs it: outputs, resuming, and clear errors for bad input."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SLOW = 'slow' in os.environ.get('CPSAMPLE_TEST_FLAGS', '').replace(',', ' ').split()

ENTRY = 'import sys; from cpsample_nb.side_attack import main; sys.exit(main(sys.argv[1:]))'


def run(*args):
    return subprocess.run([sys.executable, '-c', ENTRY, *map(str, args)], capture_output=True, text=True)


@pytest.mark.skipif(not SLOW, reason="the quick SIDE run as a command: 23_side_attack runs it in-process (CPSAMPLE_TEST_FLAGS=slow)")
def test_quick_run_writes_results_report_and_figures_and_resumes(tmp_path):
    out = tmp_path / 'side'
    r = run('--model', 'faces', '--protect', 'faces', '--out', out, '--quick', '--threads', '1')
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / 'results.json').read_text())
    assert list(res['targets']) == ['unprotected', 'cpsample_a0.5_s50']
    prot = res['targets']['cpsample_a0.5_s50']
    assert prot['target'] == {'name': 'cpsample_a0.5_s50', 'protected': True, 'alpha': 0.5, 'scale': 50.0, 'tau': 0.001}
    assert res['command'].startswith('cpsample attack-side --model faces --protect faces')
    assert 'SSCD is not available offline' in res['features']
    for t in res['targets'].values():
        assert t['config']['n_g'] == 16 and t['surrogate']['K'] == 6 and 1 <= t['surrogate']['K_kept'] <= 6
        arms = [(s['name'], s['lam']) for s in t['scores']]
        assert arms == [('UnCond', 0.0), ('Cond', 10.0), ('SIDE', 10.0)]
        for s in t['scores']:
            assert set(s['ams']) == set(s['ums']) == {'low', 'mid', 'high'}
            assert 0 <= sum(s['ams'].values()) <= 1  # disjoint bands: a sample counts in at most one
            assert all(0 <= v <= 50 / 16 for v in s['ums'].values())  # UMS divides by N_G: at most |D2| / N_G
            assert s['coverage'][str(s['n_g'])] == s['distinct_high']
    for name in ('lambda_sweep.png', 'pairs_unprotected.png', 'pairs_cpsample_a0.5_s50.png', 'clusters_unprotected.png'):
        assert (out / name).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n', name
    assert '### every arm' in (out / 'report.md').read_text()
    assert (out / 'unprotected' / 'samples_SIDE_10.safetensors').exists()
    # a second run with the same settings resumes from the stage files and gives the same numbers
    r2 = run('--model', 'faces', '--protect', 'faces', '--out', out, '--quick', '--threads', '1')
    assert r2.returncode == 0, r2.stderr[-3000:]
    again = json.loads((out / 'results.json').read_text())['targets']
    for name, t in res['targets'].items():
        assert {k: v for k, v in again[name].items() if k != 'seconds'} == {k: v for k, v in t.items() if k != 'seconds'}
    # a run with other settings into the same folder is refused: `attack`'s check, asserted in nbs/23_side_attack


# nbs/23_side_attack asserts SideConfig's checks (--n-syn/--k, --lambdas, --tau, --bands, --n-g) and main's one-line
# error for a missing --model; here the command-line errors those cells leave out. A missing --protect folder is
# load_classifier's error (its wording is 06_training's): here only that it is one line naming the folder.
@pytest.mark.parametrize('args, message', [
    (['--model', 'faces', '--skip-unprotected'], '--skip-unprotected needs --protect'),
    (['--model', 'faces', '--protect', 'MISSING'], 'MISSING'),
    (['--model', 'faces', '--features', 'sscd'], '--feature-weights'),
    (['--model', 'faces', '--features', 'sscd', '--feature-weights', 'MISSING.pt'], 'not found'),
])
def test_bad_input_is_a_one_line_error(tmp_path, capsys, args, message):
    "In-process (`main(argv)`, as the console script calls it): exit status 1 and one line naming the problem."
    from cpsample_nb.side_attack import main
    args = [str(tmp_path / a) if a.startswith('MISSING') else a for a in args]
    assert main([*args, '--out', str(tmp_path / 'out'), '--quick']) == 1
    err = capsys.readouterr().err
    assert err.startswith('cpsample attack-side: error:') and message in err and err.count('\n') == 1, err


def test_unparseable_lambdas_is_a_usage_error(tmp_path, capsys):
    from cpsample_nb.side_attack import main
    with pytest.raises(SystemExit) as e: main(['--model', 'faces', '--out', str(tmp_path), '--lambdas', '1,x'])
    assert e.value.code == 2 and 'comma-separated numbers' in capsys.readouterr().err


def test_protect_classifier_of_other_faces_is_refused(tmp_path, capsys):
    "A CPSample classifier trained on another subset than the denoiser protects nothing: refuse the pair."
    import cpsample_nb
    src = Path(cpsample_nb.__file__).parent / 'assets' / 'classifier_faces16'
    clf = tmp_path / 'clf'
    shutil.copytree(src, clf)
    man = json.loads((clf / 'manifest.json').read_text())
    man['data']['indices'] = list(reversed(man['data']['indices']))
    (clf / 'manifest.json').write_text(json.dumps(man))
    from cpsample_nb.side_attack import main
    assert main(['--model', 'faces', '--protect', str(clf), '--out', str(tmp_path / 'out'), '--quick']) == 1
    assert 'train both on the same subset' in capsys.readouterr().err


def test_help_names_the_options():
    r = run('--help')
    assert r.returncode == 0
    for opt in ('--model', '--protect', '--out', '--n-syn', '--lambdas', '--tau', '--features'):
        assert opt in r.stdout


# side_command: the plain function behind `cpsample attack --kind side` (options built from its signature)
def test_side_command_options_come_from_its_signature():
    import argparse
    from cpsample_nb.options import add_options
    from cpsample_nb.side_study import side_command
    p = argparse.ArgumentParser()
    names = add_options(p, side_command)
    assert names[:7] == ['model', 'classifier', 'out', 'n_per_arm', 'seeds', 'lambdas', 'cond_lambdas']
    a = p.parse_args(['--model', 'faces', '--classifier', 'none', '--seeds', '0', '1', '--lambdas', '3', '10', '--n-per-arm', '500'])
    assert (a.model, a.classifier, a.seeds, a.lambdas, a.n_per_arm) == ('faces', 'none', [0, 1], [3.0, 10.0], 500)
    d = p.parse_args([])
    assert (d.model, d.classifier, tuple(d.seeds), d.n_per_arm, d.steps) == ('fashion', 'shipped', (0, 1, 2), 1000, 25)
    with pytest.raises(SystemExit): p.parse_args(['--lambdas', 'x'])


def test_fisher_and_wilson_against_scipy():
    "The one-sided Fisher p is scipy's; a pooled share's Wilson interval narrows with the pooled count."
    from scipy.stats import fisher_exact
    from cpsample_nb.evaluation import wilson_interval
    from cpsample_nb.side_study import fisher_greater
    for k1, n1, k2, n2 in ((28, 200, 19, 200), (64, 400, 42, 400), (0, 1000, 0, 1000), (7, 30, 1, 1000)):
        assert fisher_greater(k1, n1, k2, n2) == pytest.approx(fisher_exact([[k1, n1 - k1], [k2, n2 - k2]], alternative='greater')[1])
    one, pooled = wilson_interval(19, 200), wilson_interval(57, 600)
    assert pooled[1] - pooled[0] < one[1] - one[0]
