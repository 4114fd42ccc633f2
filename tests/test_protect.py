"Issue 26: a user's own diffusers model and nested image folder through `protect`, `sample`, `evaluate`, `train-classifier`; several processes."
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DDPMPipeline, DDPMScheduler
from PIL import Image

from cpsample_nb.cli import main
from cpsample_nb.denoiser import make_unet
from cpsample_nb.experiments import load_samples
from cpsample_nb.models import load_model
from cpsample_nb.protect import protect
from cpsample_nb.sample_evaluate import sample_command
from cpsample_nb.sampler import CPSamplePipeline
from cpsample_nb.training import checkpoint_dirs

SLOW = 'slow' in os.environ.get('CPSAMPLE_TEST_FLAGS', '').replace(',', ' ').split()
TINY = dict(n_samples=4, steps=3, classifier_steps=6, classifier_batch=8, batch_size=2, alpha=0.5, scale=10.0, progress=False)


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    "A diffusers-saved RGB 32x32 DDPMPipeline, a nested training folder (ImageFolder layout, one RGBA file) and a held-out folder."
    d = tmp_path_factory.mktemp('user')
    torch.manual_seed(0)
    DDPMPipeline(unet=make_unet(32, 3, (4, 8)), scheduler=DDPMScheduler(num_train_timesteps=1000)).save_pretrained(d / 'pipe')
    g = np.random.default_rng(0)
    for split, n in (('train', 5), ('heldout', 4)):
        for cls in ('a', 'b'):
            (d / split / cls).mkdir(parents=True)
            for i in range(n): Image.fromarray(g.integers(0, 255, (40, 36, 3), dtype=np.uint8)).save(d / split / cls / f'{i}.png')
    Image.fromarray(g.integers(0, 255, (33, 33, 4), dtype=np.uint8)).save(d / 'train' / 'b' / 'deep.png')
    return d


def _protect(setup, out, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return protect(setup / 'pipe', setup / 'train', out, **{**TINY, **kw})


def test_protect_end_to_end(setup, tmp_path):
    r = _protect(setup, tmp_path / 'p', heldout=setup / 'heldout')
    out = tmp_path / 'p'
    for f in ('report.md', 'results.json', 'protected_subset.json', 'samples_ddim.safetensors', 'samples_cpsample.safetensors',
              'figures/similarity_hist.png', 'pipeline/model_index.json', 'classifier/report.json'):
        assert (out / f).exists(), f
    assert json.loads((out / 'results.json').read_text())['threshold'] == r['threshold']
    assert (r['model']['kind'], r['model']['channels'], r['model']['size']) == ('pipeline', 3, 32)
    assert (r['data']['images'], r['data']['protected'], r['data']['nonmembers']) == (11, 11, 4)  # 8 held-out: 4 calibrate, 4 non-members
    assert r['threshold']['n_calibration'] == 4 and 0 < r['threshold']['value'] <= 1
    assert 'deep.png' in ' '.join(r['data']['files'])  # the nested file is protected
    xc = load_samples(out / 'samples_cpsample.safetensors')[0]
    assert xc.shape == (4, 3, 32, 32)
    pipe = CPSamplePipeline.from_pretrained(out / 'pipeline')
    pipe.set_progress_bar_config(disable=True)
    x = pipe(batch_size=2, num_inference_steps=3, alpha=0.5, scale=10.0, generator=torch.Generator().manual_seed(0), output_type='pt').images
    assert torch.allclose(x * 2 - 1, xc[:2], atol=1e-4)  # the saved pipeline gives the evaluated samples
    assert 'Copy threshold.** 0.' in (out / 'report.md').read_text()


def test_rerun_reuses_and_survives_a_truncated_classifier_checkpoint(setup, tmp_path):
    out = tmp_path / 'p'
    first = _protect(setup, out)
    assert first['threshold']['value'] is None and 'no copy threshold is calibrated' in (out / 'report.md').read_text()
    again = _protect(setup, out)
    assert again['sampling']['reused'] == ['ddim', 'cpsample'] and again['evaluation'] == first['evaluation']
    newest = checkpoint_dirs(out / 'classifier')[-1]
    f = newest / 'train' / 'model.safetensors'
    f.write_bytes(f.read_bytes()[:50])
    with pytest.warns(UserWarning, match='skipping corrupt classifier checkpoint'):
        third = protect(setup / 'pipe', setup / 'train', out, **TINY)
    assert third['classifier']['steps'] == TINY['classifier_steps']
    assert third['evaluation'] == first['evaluation']  # resumed from the older checkpoint: the same classifier, the same samples


def test_command_line_error_is_the_functions(tmp_path, capsys):
    "`cpsample sample` with a bad option: exit status 1 and the function's own message (29_protect and 28_sample_evaluate test the messages)."
    assert main(['sample', '--model', 'faces', '--n', '0', '--out', str(tmp_path / 'x.safetensors')]) == 1
    with pytest.raises(ValueError) as e: sample_command(model='faces', n=0, out=str(tmp_path / 'x.safetensors'))
    assert capsys.readouterr().err == f'cpsample sample: error: {e.value}\n'
    assert not any(tmp_path.iterdir())


def test_model_kinds(setup, tmp_path):
    pipe = load_model(setup / 'pipe')
    bare = load_model(setup / 'pipe' / 'unet')
    assert (pipe.manifest['kind'], bare.manifest['kind']) == ('pipeline', 'unet')
    assert torch.equal(bare.scheduler.alphas_cumprod, DDPMScheduler().alphas_cumprod)  # the stated default schedule


def test_sample_evaluate_train_classifier_take_them(setup, tmp_path, capsys):
    p = _protect(setup, tmp_path / 'p')
    assert p['classifier']['steps'] == TINY['classifier_steps']
    base = ['--n', '4', '--steps', '3', '--batch-size', '2']
    assert main(['sample', '--model', str(setup / 'pipe'), *base, '--out', str(tmp_path / 'ddim.safetensors')]) == 0
    assert main(['sample', '--model', str(setup / 'pipe' / 'unet'), '--classifier', str(tmp_path / 'p' / 'classifier'), '--alpha', '0.5',
                 '--scale', '10', *base, '--out', str(tmp_path / 'cp.safetensors')]) == 0
    xd, xc = load_samples(tmp_path / 'ddim.safetensors')[0], load_samples(tmp_path / 'cp.safetensors')[0]
    assert torch.equal(xd, load_samples(tmp_path / 'p' / 'samples_ddim.safetensors')[0])  # what protect drew from the same noise
    assert torch.allclose(xc, load_samples(tmp_path / 'p' / 'samples_cpsample.safetensors')[0], atol=1e-5)
    assert main(['evaluate', '--samples', str(tmp_path / 'cp.safetensors'), '--baseline', str(tmp_path / 'ddim.safetensors'),
                 '--train', str(setup / 'train'), '--heldout', str(setup / 'heldout'), '--out', str(tmp_path / 'ev')]) == 0
    ev = json.loads((tmp_path / 'ev' / 'evaluation.json').read_text())
    assert '11 images' in ev['against'] and ev['heldout_threshold'] is not None
    assert main(['train-classifier', '--data', str(setup / 'train'), '--size', '32', '--steps', '3', '--batch-size', '4',
                 '--eval-every', '3', '--out', str(tmp_path / 'clf'), '--quiet']) == 0
    r = json.loads((tmp_path / 'clf' / 'report.json').read_text())
    assert r['images'] == 11 and r['size'] == 32
    capsys.readouterr()


@pytest.mark.skipif(not SLOW, reason="two CPU processes under accelerate launch (about a minute); CPSAMPLE_TEST_FLAGS=slow")
def test_two_processes_sample_the_images_of_one(setup, tmp_path):
    cps = str(Path(sys.executable).parent / 'cpsample')
    acc = str(Path(sys.executable).parent / 'accelerate')
    args = ['sample', '--model', str(setup / 'pipe'), '--n', '6', '--steps', '3', '--batch-size', '2', '--threads', '1']
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    subprocess.run([cps, *args, '--out', str(tmp_path / 'one.safetensors')], check=True, capture_output=True, env=env)
    two = subprocess.run([acc, 'launch', '--multi_gpu', '--num_processes', '2', '--num_machines', '1', '--mixed_precision', 'no',
                          '--dynamo_backend', 'no', cps, *args, '--out', str(tmp_path / 'two.safetensors')], capture_output=True, text=True, env=env)
    assert two.returncode == 0, two.stderr[-2000:]
    (a, ma), (b, mb) = load_samples(tmp_path / 'one.safetensors'), load_samples(tmp_path / 'two.safetensors')
    assert (ma['processes'], mb['processes']) == ('1', '2')
    assert torch.equal(a, b)
