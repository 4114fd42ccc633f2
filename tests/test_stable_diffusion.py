"""The mini text-to-image model's command-line path at toy size: train-t2i (export, manifest, resume) and sample-text."""
import json
import shlex

import torch

from cpsample_nb.cli import build_parser
from cpsample_nb.stable_diffusion import build_clip_tokenizer
from cpsample_nb.text2image import T2I_CASES

TOY = ['--n', '16', '--copies', '2', '--vae-steps', '2', '--steps', '2', '--batch-size', '4', '--width', '8', '--text-dim', '16',
       '--text-layers', '1', '--n-probe', '1', '--probe-steps', '2', '--checkpoint-every', '2', '--threads', '1', '--quiet']


def cpsample(*argv):
    "Parse `cpsample ARGV` as the console script does and run the sub-command's function; what it returns."
    args = build_parser(only=argv[0]).parse_args(argv)
    return args._run(args)


def test_tokenizer_known_ids_offline(tmp_path):
    tok = build_clip_tokenizer(tmp_path)
    assert tok('a photo of a cat').input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_train_t2i_then_sample_text(tmp_path):
    out = tmp_path / 'run'
    res = cpsample('train-t2i', '--out', str(out), *TOY)
    assert (res['vae_steps'], res['steps']) == (2, 2)
    m = json.loads((out / 'model' / 'manifest.json').read_text())
    assert m['command'] == (f'cpsample train-t2i --out {shlex.quote(str(out))} --n 16 --copies 2 --size 16 --data-seed 0 --width 8 '
                            '--text-dim 16 --text-layers 1 --max-length 77 --vae-steps 2 --steps 2 --batch-size 4 --warmup 100 --seed 0 '
                            '--checkpoint-every 2 --n-probe 1 --probe-steps 2 --vae-lr 0.001 --lr 0.0005 --kl-weight 0.001 --cond-drop 0.1 '
                            '--ema-decay 0.999 --probe-guidance 3.0 --device cpu --threads 1 --quiet')
    assert [c['original'] for c in m['cases']] == [c.original for c in T2I_CASES]
    assert m['data']['n_images'] == 16 + 2 * len(T2I_CASES) and m['n_parameters']['unet'] > 0
    assert (out / 'model' / 'model_index.json').exists() and (out / 'model' / 'tokenizer' / 'vocab.json').exists()
    again = cpsample(*shlex.split(m['command'])[1:])  # the recorded command reruns: it resumes from the final checkpoint, nothing left to do
    assert (again['vae_steps'], again['steps']) == (2, 2) and again['wall_s'] > 0
    meta = cpsample('sample-text', '--model', str(out / 'model'), '--prompt', T2I_CASES[1].original, '--n', '2', '--steps', '2',
                    '--out', str(tmp_path / 's'), '--threads', '1')
    assert meta['scale'] == 0.0 and meta['prompts'][0]['prompt'] == T2I_CASES[1].original and (tmp_path / 's' / 'prompt0.png').exists()
    from safetensors.torch import load_file
    x = load_file(tmp_path / 's' / 'prompt0.safetensors')['samples']
    assert x.shape == (2, 1, 16, 16) and x.min() >= -1 and x.max() <= 1 and torch.isfinite(x).all()
