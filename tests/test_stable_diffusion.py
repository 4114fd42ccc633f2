"""The mini text-to-image model's command-line path at toy size: train-t2i (export, manifest, resume) and sample-text."""
import argparse
import json

import torch

from cpsample_nb.stable_diffusion import build_clip_tokenizer
from cpsample_nb.text2image import T2I_CASES, add_sample_text_args, add_train_t2i_args, run_sample_text, run_train_t2i

TOY = ['--n', '16', '--copies', '2', '--vae-steps', '2', '--steps', '2', '--batch-size', '4', '--width', '8', '--text-dim', '16',
       '--text-layers', '1', '--n-probe', '1', '--probe-steps', '2', '--checkpoint-every', '2', '--threads', '1', '--quiet']


def test_tokenizer_known_ids_offline(tmp_path):
    tok = build_clip_tokenizer(tmp_path)
    assert tok('a photo of a cat').input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_train_t2i_then_sample_text(tmp_path):
    out = tmp_path / 'run'
    args = add_train_t2i_args(argparse.ArgumentParser()).parse_args(['--out', str(out)] + TOY)
    res = run_train_t2i(args)
    assert (res['vae_steps'], res['steps']) == (2, 2)
    m = json.loads((out / 'model' / 'manifest.json').read_text())
    assert m['command'].startswith('cpsample train-t2i --out ') and '--steps 2' in m['command']
    assert [c['original'] for c in m['cases']] == [c.original for c in T2I_CASES]
    assert m['data']['n_images'] == 16 + 2 * len(T2I_CASES) and m['n_parameters']['unet'] > 0
    assert (out / 'model' / 'model_index.json').exists() and (out / 'model' / 'tokenizer' / 'vocab.json').exists()
    again = run_train_t2i(args)  # resumes from the final checkpoint: nothing left to do
    assert (again['vae_steps'], again['steps']) == (2, 2) and again['wall_s'] > 0
    sp = add_sample_text_args(argparse.ArgumentParser())
    meta = run_sample_text(sp.parse_args(['--model', str(out / 'model'), '--prompt', T2I_CASES[1].original, '--n', '2',
                                          '--steps', '2', '--out', str(tmp_path / 's'), '--threads', '1']))
    assert meta['scale'] == 0.0 and (tmp_path / 's' / 'prompt0.png').exists()
    from safetensors.torch import load_file
    x = load_file(tmp_path / 's' / 'prompt0.safetensors')['samples']
    assert x.shape == (2, 1, 16, 16) and x.min() >= -1 and x.max() <= 1 and torch.isfinite(x).all()
