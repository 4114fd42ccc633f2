"""benchmarks/bench.py: every sub-command's --help, option errors that name the option, and two tiny runs that write the record."""
import importlib.util
import json
import sys

import pytest
import torch

from conftest import ROOT

spec = importlib.util.spec_from_file_location('bench', ROOT / 'benchmarks' / 'bench.py')
bench = importlib.util.module_from_spec(spec)
sys.modules['bench'] = bench
spec.loader.exec_module(bench)

SUBCOMMANDS = ['overhead', 'check', 'classifier', 'nnindex', 'sampler', 'scaling', 'small-batch', 'sd-study', 'gate', 'frontier', 'frontier-plot', 'attacks', 'side', 'protect']


def test_subcommands():
    assert list(bench.COMMANDS) == SUBCOMMANDS
    for c in SUBCOMMANDS: assert all(bench.parts(c))


@pytest.mark.parametrize('cmd', [[]] + [[c] for c in SUBCOMMANDS])
def test_help(cmd, capsys):
    with pytest.raises(SystemExit) as e: bench.build_parser().parse_args(cmd + ['--help'])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith('usage: bench.py')
    if cmd: assert '--out' in out and '--threads' in out and '--default-malloc' in out


@pytest.mark.parametrize('argv, says', [
    (['check', '--repeats', '0'], '--repeats/--rounds: must be a positive integer'),
    (['scaling', '--device', 'tpu'], "--device: must be 'cpu', 'cuda' or 'cuda:N'"),
    (['overhead', '--pairs', 'dogs'], "--pairs: no shipped pair named 'dogs'; available: faces, fashion"),
    (['overhead', '--classifier', 'fashion'], '--classifier takes NAME=DIR'),
    (['classifier', '--configs', 'nope'], "--configs: unknown 'nope'; allowed: 'default (16,32,64)'"),
    (['sd-study', '0', '5', '0.5'], 'each is ALPHA:S'),
    (['gate', '--n', '1'], '--n: must be an integer >= 2'),
    (['gate', '--alpha', '0.7'], '--alpha must lie in (0, 0.5]'),
    (['frontier', '--amg', '0.9'], '--amg: THRESHOLD in [-1, 1), SCALE >= 0'),
    (['frontier', '--bound', 'x:1'], '--bound: each is THRESHOLD:SCALE'),
    (['frontier', '--samplers', 'ddim', '--reject-at', '0.98'], '--reject-at needs --samplers rejection, cp-rejection or gated-rejection'),
    (['frontier', '--samplers', 'rejection', '--reject-at', '1.0'], '--reject-at: each COSINE in (-1, 1)'),
    (['frontier', '--samplers', 'cpsample', '--time-rounds', '3'], '--time-rounds times each sampler against plain DDIM'),
])
def test_bad_options(argv, says, capsys):
    p = bench.build_parser()
    with pytest.raises(SystemExit) as e:
        a = p.parse_args(argv)
        sp = p.commands[a.command]
        bench.check_common(sp, a); bench.parts(a.command)[1](sp, a)
    assert e.value.code == 2
    assert says in capsys.readouterr().err


@pytest.fixture
def keep_threads():
    n = torch.get_num_threads()
    yield n
    torch.set_num_threads(n)


@pytest.mark.parametrize('argv', [
    ['check', '--pairs', 'fashion', '--batch', '2', '--repeats', '1'],
    ['nnindex', '--n', '300', '--m', '100', '--dim', '16', '--ivf', '4', '--nprobe', '2'],
])
def test_smoke(argv, tmp_path, keep_threads, capsys):
    out = tmp_path / 'r.json'
    if argv[0] == 'check': argv = argv + ['--threads', '1']  # one thread: steadier on a loaded machine; the fixture restores torch's count
    bench.main(argv + ['--default-malloc', '--out', str(out)])  # --default-malloc: leave this process's allocator alone
    printed = capsys.readouterr().out
    assert '|---|' in printed and f'wrote {out}' in printed
    rec = json.loads(out.read_text())
    assert {'subcommand', 'command', 'commit', 'machine', 'date', 'malloc', 'settings', 'results'} <= set(rec)
    assert rec['subcommand'] == argv[0] and rec['command'].startswith(f'python benchmarks/bench.py {argv[0]} ')
    assert rec['commit'] and rec['machine'] and rec['date'][:2] == '20'
    assert rec['settings']['out'] == str(out) and rec['settings']['default_malloc'] is True
    assert rec['results']['rows']


def test_frontier_plot_draws_the_shipped_records(tmp_path, capsys):
    "The frontier's figure from the 2,000-image records in reports/bench: one point per sampler, ratios to plain DDIM."
    out, png = tmp_path / 'r.json', tmp_path / 'f.png'
    res = bench.main(['frontier-plot', '--default-malloc', '--png', str(png), '--out', str(out)])
    assert png.stat().st_size > 10_000 and f'wrote {png}' in capsys.readouterr().out
    names = [p['sampler'] for p in res['points']]
    assert names[0] == 'plain DDIM' and len(names) == len(set(names)) >= 5
    assert len({bench._frontier_label(n) for n in names}) == len(names)  # one legend entry per sampler, none shared
    assert res['points'][0]['fd_ratio'] == 1.0 and all(0 <= p['copies_pct'] <= 100 and 0 < p['mia_auc'] <= 1 for p in res['points'])
    rec = json.loads(out.read_text())
    assert 'loaded' not in rec['settings'] and rec['results']['points'] == res['points']


def test_frontier_plot_refuses_other_records(tmp_path, capsys):
    other = tmp_path / 'gate.json'; other.write_text(json.dumps({'subcommand': 'gate'}))
    p = bench.build_parser()
    with pytest.raises(SystemExit) as e:
        a = p.parse_args(['frontier-plot', '--records', str(other)])
        bench.parts('frontier-plot')[1](p.commands['frontier-plot'], a)
    assert e.value.code == 2 and "is a 'gate' record, not a 'frontier' one" in capsys.readouterr().err
