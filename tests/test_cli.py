"""The `cpsample` console script as a user runs it."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import tool

SLOW = 'slow' in os.environ.get('CPSAMPLE_TEST_FLAGS', '').replace(',', ' ').split()


def run(*args):
    return subprocess.run([tool('cpsample'), *args], capture_output=True, text=True)


def _argv(command: str, **options) -> list:
    "The command line of `command` with these options (`n_samples=3` -> `--n-samples 3`)."
    return [command] + [x for k, v in options.items() for x in (f"--{k.replace('_', '-')}", str(v))]


def _reports_error_of(r, command: str, fn) -> bool:
    "The process ended with status 1 and one stderr line: `cpsample COMMAND: error: ` and the message `fn()` raises in-process."
    "(The messages themselves are tested in the notebooks; this is the command line's part: the same check, one clear line.)"
    with pytest.raises((ValueError, OSError)) as e: fn()
    return _one_error_line(r) and r.stderr.strip() == f'cpsample {command}: error: {e.value}'


def test_help_lists_the_commands():
    r = run('--help')
    assert r.returncode == 0 and 'demo' in r.stdout


def test_no_command_prints_help_and_fails():
    r = run()
    assert r.returncode == 2 and 'usage: cpsample' in r.stdout


def test_demo_quick_writes_results_report_and_pngs(tmp_path):
    "The faces quick demo through `cli.main` (the console script's function; the `cpsample` process itself runs in test_evaluate_failing_late and 30_cli)."
    from cpsample_nb.cli import main
    out = tmp_path / 'demo'
    assert main(['demo', '--quick', '--n-samples', '50', '--steps', '5', '--no-side', '--out', str(out)]) == 0  # SIDE runs in 22_side and 26_demo_stages
    res = json.loads((out / 'results.json').read_text())
    assert res['dataset']['n_protected'] + res['dataset']['n_heldout_faces'] == 100 and res['dataset']['image_shape'] == [1, 16, 16]
    assert res['permutation']['k'] == res['dataset']['n_protected']  # 50 samples cover the 50 faces of S
    assert res['gate']['n_trajectories'] == 16 and 'side' not in res  # the quick gate stage ran; SIDE was switched off
    assert 0 <= res['permutation_p_ddim'] <= 1 and 0 <= res['permutation_p_cpsample'] <= 1
    assert res['meta']['quick'] is True and res['meta']['wall_time_s'] > 0
    assert '## dataset' in (out / 'report.md').read_text()
    pngs = sorted(p.name for p in out.glob('*.png'))
    assert 'protected_set.png' in pngs
    assert (out / 'protected_set.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.mark.skipif(not SLOW, reason="the quick Fashion-MNIST demo: 27_demo runs it in-process (CPSAMPLE_TEST_FLAGS=slow)")
def test_demo_quick_on_fashion_saves_the_samples_and_the_subset(tmp_path):
    out = tmp_path / 'fashion'
    r = run('demo', '--quick', '--data', 'fashion', '--no-side', '--n-samples', '16', '--steps', '5', '--out', str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads((out / 'results.json').read_text())
    assert res['meta']['data'] == 'fashion' and res['dataset']['n_total'] == 60000
    assert res['threshold'] == res['dataset']['heldout_threshold'] and res['quality_measure'] == 'fd_fmnist_classifier'
    assert len(json.loads((out / 'protected_subset.json').read_text())['indices']) == res['dataset']['n_protected']
    for name in ('samples_ddim', 'samples_cpsample'):
        assert (out / f'{name}.safetensors').stat().st_size > 16 * 16 * 16 * 4 and (out / f'{name}.png').exists()
    assert 'mia_pretrained' in res and 'overhead' in res


def test_demo_unknown_data_is_a_clear_error(tmp_path, capsys):
    "In-process, through `cli.main` (what the console script calls; the process path is test_demo_bad_alpha's): argparse refuses, nothing is written."
    from cpsample_nb.cli import main
    with pytest.raises(SystemExit) as e: main(['demo', '--quick', '--data', 'cats', '--out', str(tmp_path / 'x')])
    assert e.value.code == 2 and "invalid choice: 'cats'" in capsys.readouterr().err
    assert not (tmp_path / 'x').exists()


@pytest.mark.skipif(not SLOW, reason="another demo-argument error as a process; test_demo_bad_alpha_is_a_clear_error covers the path (CPSAMPLE_TEST_FLAGS=slow)")
def test_demo_bad_size_is_a_clear_error(tmp_path):
    "As a process: exit status 1, one error line, no output folder (27_demo tests the message in-process)."
    from cpsample_nb.demo import demo_command
    r = run('demo', '--quick', *_argv('demo', size=0, out=tmp_path / 'x')[1:])
    assert _reports_error_of(r, 'demo', lambda: demo_command(quick=True, size=0, out=str(tmp_path / 'x'))), r.stderr[-2000:]
    assert not (tmp_path / 'x').exists()


def test_demo_bad_alpha_is_a_clear_error(tmp_path, capsys):
    "In-process through `cli.main` (the console script's function; test_evaluate_failing_late runs the same path as a process)."
    from cpsample_nb.cli import main
    from cpsample_nb.demo import demo_command
    code = main(['demo', '--quick', *_argv('demo', alpha=0.9, out=tmp_path / 'x')[1:]])
    r = subprocess.CompletedProcess([], code, '', capsys.readouterr().err)
    assert _reports_error_of(r, 'demo', lambda: demo_command(quick=True, alpha=0.9, out=str(tmp_path / 'x'))), r.stderr[-2000:]
    assert not (tmp_path / 'x').exists()


def test_sample_and_evaluate_have_help(capsys):
    "`cpsample evaluate --help` lists every option of its parser, in-process through `cli.main` (`sample --help` runs as a process in 30_cli)."
    from cpsample_nb.cli import main
    for cmd in ('evaluate',):
        with pytest.raises(SystemExit) as e: main([cmd, '--help'])
        out, flags = capsys.readouterr().out, _options(cmd)
        assert e.value.code == 0 and len(flags) > 5 and all(f in out for f in flags), out


@pytest.mark.skipif(not SLOW, reason="sample + evaluate as commands (four processes); 28_sample_evaluate runs both in-process (CPSAMPLE_TEST_FLAGS=slow)")
def test_sample_then_evaluate_on_the_shipped_faces_model(tmp_path):
    common = ['--model', 'faces', '--n', '6', '--steps', '3', '--batch-size', '4', '--threads', '1']
    r = run('sample', *common, '--classifier', 'faces', '--out', str(tmp_path / 'cp.safetensors'))
    assert r.returncode == 0, r.stderr[-2000:]
    assert run('sample', *common, '--out', str(tmp_path / 'ddim.safetensors')).returncode == 0
    from safetensors.torch import load_file
    x = load_file(str(tmp_path / 'cp.safetensors'))['images']
    assert x.shape == (6, 1, 16, 16) and x.min() >= -1 and x.max() <= 1
    assert (tmp_path / 'cp.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    out = tmp_path / 'ev'
    r = run('evaluate', '--samples', str(tmp_path / 'cp.safetensors'), '--baseline', str(tmp_path / 'ddim.safetensors'),
            '--train', 'faces', '--out', str(out))
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads((out / 'evaluation.json').read_text())
    s = res['summary']['t0.95']
    assert {'replication_ddim', 'replication_cpsample', 'replication_heldout', 'chi2_p_value', 'quality_cpsample'} <= set(s)
    assert res['against'].startswith('50 protected faces images')
    assert (out / 'similarity_hist.png').exists() and (out / 'most_similar_pairs.png').exists() and (out / 'report.md').exists()


def _one_error_line(r, code=1):
    lines = r.stderr.strip().splitlines()
    return r.returncode == code and len(lines) == 1 and 'error:' in lines[0] and 'Traceback' not in r.stderr


@pytest.mark.skipif(not SLOW, reason="a dozen cpsample processes; the messages are tested in 28_sample_evaluate (CPSAMPLE_TEST_FLAGS=slow)")
def test_sample_and_evaluate_bad_input_is_one_clear_line_and_writes_nothing(tmp_path):
    "Each bad input (bad alpha, no such model, wrong file name; missing, flat or junk samples file) is the function's error as one line."
    from safetensors.torch import save_file
    import torch
    from cpsample_nb.sample_evaluate import evaluate_command, sample_command
    save_file({'images': torch.zeros(4, 16, 16)}, str(tmp_path / 'flat.safetensors'))
    (tmp_path / 'junk.safetensors').write_text('junk')
    s = str(tmp_path / 's.safetensors')
    cases = [
        ('sample', dict(model='faces', n=2, alpha=0.9, out=s)),
        ('sample', dict(model=str(tmp_path / 'nomodel'), n=2, out=s)),
        ('sample', dict(model='faces', n=2, out=str(tmp_path / 's.npy'))),
        *[('evaluate', dict(samples=str(tmp_path / f), train='faces', out=str(tmp_path / 'ev'))) for f in ('none.safetensors', 'flat.safetensors', 'junk.safetensors')],
    ]
    for cmd, kw in cases:
        fn = {'sample': sample_command, 'evaluate': evaluate_command}[cmd]
        r = run(*_argv(cmd, **kw))
        assert _reports_error_of(r, cmd, lambda: fn(**kw)), (cmd, kw, r.stderr[-2000:])
    r = run('sample', '--model', 'faces', '--n', 'many', '--out', str(tmp_path / 's.safetensors'))
    assert r.returncode == 2 and "invalid int value: 'many'" in r.stderr  # argparse's usage error
    assert sorted(p.name for p in tmp_path.iterdir()) == ['flat.safetensors', 'junk.safetensors']  # nothing written


def test_evaluate_failing_late_leaves_no_output_folder(tmp_path):
    import torch
    from safetensors.torch import save_file
    save_file({'images': torch.zeros(4, 3, 16, 16)}, str(tmp_path / 'rgb.safetensors'))  # faces are grey: fails after loading
    r = run('evaluate', '--samples', str(tmp_path / 'rgb.safetensors'), '--train', 'faces', '--out', str(tmp_path / 'ev'))
    assert _one_error_line(r) and 'channel' in r.stderr, r.stderr[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ['rgb.safetensors']


def _options(name):
    "The options of sub-command `name` as {flag: what a user can rely on}: takes a value, default, type, choices, nargs."
    import argparse
    from cpsample_nb.cli import build_parser
    p = build_parser(only=name)
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices[name]
    out = {}
    for a in sub._actions:
        if isinstance(a, argparse._HelpAction): continue
        for s in a.option_strings:
            value = a.nargs != 0
            out[s] = {'takes_value': value} if not value else {
                'takes_value': True, 'default': json.loads(json.dumps(a.default, default=str)), 'type': getattr(a.type, '__name__', 'str') if a.type else 'str',
                'choices': sorted(map(str, a.choices)) if a.choices else None, 'nargs': a.nargs, 'required': a.required}
    return out


@pytest.mark.parametrize('name', sorted(json.loads((Path(__file__).parent / 'cli_options.json').read_text())))
def test_older_commands_keep_every_option(name):
    "The commands built from function signatures keep every flag of their hand-written parsers (tests/cli_options.json),"
    "with its type and default: shipped manifests record these command lines and `demo --retrain` reruns them."
    old = json.loads((Path(__file__).parent / 'cli_options.json').read_text())[name]
    new = _options(name)
    assert set(old) <= set(new), set(old) - set(new)  # new options may come; none may go
    for flag, o in old.items():
        n = new[flag]
        assert n['takes_value'] == o['takes_value'], flag
        if not o['takes_value']: continue
        want = {'default': o['default'], 'type': o['type'] or 'str', 'choices': sorted(map(str, o['choices'])) if o['choices'] else None,
                'nargs': o['nargs'], 'required': o['required']}
        assert {k: n[k] for k in want} == want, flag


def test_shipped_manifests_commands_parse():
    "Every command line recorded in a shipped model's manifest (and its --init's) still parses."
    import shlex
    from cpsample_nb.cli import build_parser
    cmds = []
    for m in sorted((Path(__file__).parents[1] / 'cpsample_nb' / 'assets').glob('*/manifest.json')):
        d = json.loads(m.read_text())
        cmds += [c for c in (d.get('command'), (d.get('init') or {}).get('command')) if c]
    assert len(cmds) >= 8
    for c in cmds:
        argv = shlex.split(c)[1:]
        args = build_parser(only=argv[0]).parse_args(argv)
        assert args.command == argv[0]
