"`cpsample_nb.denoiser`: the train-denoiser run end to end (tiny), export/load, the shipped model, bad input."
import argparse
import json

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.stats import binomtest

from cpsample_nb.denoiser import command_line, load_denoiser, train_denoiser_command
from cpsample_nb.models import SHIPPED, load_shipped_denoiser
from cpsample_nb.ddim import ddim_sample
from cpsample_nb.options import add_options
from cpsample_nb.theory import replication_rate


def _args(*argv):
    "`cpsample train-denoiser`'s options, parsed as the command line parses them."
    p = argparse.ArgumentParser(); add_options(p, train_denoiser_command)
    return p.parse_args(list(argv))


def run_train_denoiser(args):
    return train_denoiser_command(**vars(args))


def _folder(d, n=6):
    d.mkdir()
    g = np.random.default_rng(0)
    for i in range(n): Image.fromarray(g.integers(0, 255, (10, 12), dtype=np.uint8)).save(d / f'im{i}.png')
    return d


TINY = ('--size', '8', '--steps', '4', '--batch-size', '4', '--log-every', '2', '--n-eval', '3',
        '--n-final', '5', '--eval-steps', '2', '--final-steps', '2', '--block-out-channels', '4,8')


def test_run_on_a_folder_exports_a_loadable_model(tmp_path):
    data = _folder(tmp_path / 'imgs')
    args = _args('--data', str(data), '--out', str(tmp_path / 'run'), '--n', '4', *TINY)
    r = run_train_denoiser(args)
    assert r['steps'] == 4 and r['final']['n_samples'] == 5
    out = tmp_path / 'run'
    assert (out / 'replication.png').exists() and (out / 'checkpoint' / 'state.json').exists()
    m = json.loads((out / 'model' / 'manifest.json').read_text())
    assert m['steps'] == 4 and len(m['data']['indices']) == 4 and m['data']['total'] == 6
    assert m['command'].startswith('cpsample train-denoiser --data ') and '--steps 4' in m['command']
    assert [e['step'] for e in m['log']] == [2, 4] and m['loss'] is not None
    den = load_denoiser(out / 'model')
    assert den.subset is not None and torch.equal(den.subset.indices, torch.tensor(m['data']['indices']))
    assert ddim_sample(den.unet, den.scheduler, 2, 2).shape == (2, 1, 8, 8)
    # a second run with more steps resumes from the checkpoint instead of starting again
    r2 = run_train_denoiser(_args('--data', str(data), '--out', str(out), '--n', '4', *TINY[:2], '--steps', '6', *TINY[4:]))
    assert r2['steps'] == 6 and [e['step'] for e in json.loads((out / 'model' / 'manifest.json').read_text())['log']] == [2, 4, 6]


def test_command_round_trips(tmp_path):
    args = _args('--data', 'digits', '--out', str(tmp_path), '--no-resume', *TINY)
    cmd = command_line(args)
    assert '--no-resume' in cmd and '--channels' not in cmd
    again = _args(*cmd.split()[2:])
    assert vars(again) == vars(args)


def test_command_round_trips_through_the_cpsample_parser(tmp_path):
    "The recorded command must leave out the CLI's internal `_run` default and parse back to the same options."
    from cpsample_nb.cli import build_parser
    args = build_parser().parse_args(['train-denoiser', '--data', 'faces', '--out', str(tmp_path), '--n', '50', '--threads', '2'])
    cmd = command_line(args)
    assert '_run' not in cmd and '---' not in cmd, cmd
    again = build_parser().parse_args(cmd.split()[1:])
    assert {k: v for k, v in vars(again).items() if k != '_run'} == {k: v for k, v in vars(args).items() if k != '_run'}


def test_bad_input():
    "A folder without manifest.json: 10_denoiser's cells; an unknown shipped name: 16_models'."
    with pytest.raises(SystemExit): _args('--data', 'faces')  # --out is required


def test_the_shipped_faces_denoiser_copies():
    den = load_shipped_denoiser('faces')
    m = den.manifest
    assert m['data']['name'] == 'faces' and m['data']['size'] == 16 and len(m['data']['indices']) == m['data']['n'] == 50
    assert m['final_evaluation']['rep95'] > 0.5  # it copies: most samples are near-copies of a protected face
    assert m['command'].startswith('cpsample train-denoiser --data faces')
    assert sum(p.numel() for p in den.unet.parameters()) == m['n_parameters']
    # the weights reproduce the replication rate the manifest recorded (inside a 99% binomial interval)
    s = ddim_sample(den.unet, den.scheduler, 24, m['final_evaluation']['ddim_steps'], generator=torch.Generator().manual_seed(1))
    k = round(replication_rate(s, den.subset.images) * 24)
    ci = binomtest(k, 24).proportion_ci(0.99)
    assert ci.low <= m['final_evaluation']['rep95'] <= ci.high, (k, m['final_evaluation'])
    assert set(SHIPPED['denoiser']) == {'faces', 'fashion', 'fashion_pretrained'}


def test_the_shipped_fashion_denoisers_are_the_papers_regime():
    "Fine-tuned on 300 of the 60,000 from the shipped pretrained model; a minority of its samples copy them."
    ft, pre = load_shipped_denoiser('fashion'), load_shipped_denoiser('fashion_pretrained')
    assert ft.manifest['data']['n'] == len(ft.subset) == 300 and pre.manifest['data']['n'] == 60000
    assert ft.manifest['init']['command'] == pre.manifest['command']  # fine-tuned from exactly the shipped pretrained model
    assert 0.05 <= ft.manifest['final_evaluation']['rep_thr'] <= 0.30 and pre.manifest['final_evaluation']['rep_thr'] == 0.0
    assert '--init' in ft.manifest['command'] and ft.manifest['data']['threshold'] > 0.95


def test_the_same_command_trains_the_same_weights(tmp_path):
    "The seed fixes the initial weights too: two runs of one command agree exactly, whatever the global RNG held before."
    from safetensors.torch import load_file
    weights = []
    for i in range(2):
        torch.manual_seed(1000 + i)  # a caller that used the global RNG differently
        run_train_denoiser(_args('--data', 'faces', '--out', str(tmp_path / f'r{i}'), '--n', '6', *TINY[:2], '--steps', '2',
                                 *TINY[4:10], '--n-final', '0', *TINY[12:]))
        weights.append(load_file(tmp_path / f'r{i}' / 'checkpoint' / 'unet' / 'diffusion_pytorch_model.safetensors'))
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
