"""Attacks: what the notebook does not cover, `attack_run` (the function behind `cpsample attack`) on the shipped
Fashion-MNIST models and its files (its option and image-file errors are asserted in nbs/15_attack_runner.ipynb)."""
import json

import pytest
import torch
from safetensors.torch import save_file

from cpsample_nb.attack_runner import attack_run
from cpsample_nb.models import load_models


@pytest.fixture(scope='module')
def fashion():
    torch.set_num_threads(1)
    return load_models('fashion', 'fashion')


def _read(out):
    return json.loads((out / 'results.json').read_text()), (out / 'report.md').read_text()


def test_loss_on_the_shipped_model(fashion, tmp_path):
    "Algorithm 1 on the fine-tuned model: S against as many test images, files written, S recognised."
    den, clf, _ = fashion
    res = attack_run('loss', den, out=str(tmp_path / 'a'), boot=50)
    got, report = _read(tmp_path / 'a')
    assert sorted(p.name for p in (tmp_path / 'a').iterdir()) == ['report.md', 'results.json', 'roc.png']
    assert got == json.loads(json.dumps(res))
    assert got['settings']['members'] == got['settings']['nonmembers'] == 300 and got['settings']['data'] == 'fashion'
    assert got['result']['auc'] > 0.9  # the model was fine-tuned on S until it copies: measured 0.995 (reports/attacks.md)
    assert 'white-box' in report and 'AUC' in report


def test_cpsample_eps_and_released_file(fashion, tmp_path):
    "The sample-only attack reads released samples from a file; CPSample's eps takes the model's SETTINGS."
    den, clf, _ = fashion
    S = den.subset.images
    save_file({'images': S[:50].contiguous()}, str(tmp_path / 'released.safetensors'))  # a sampler that released 50 members
    res = attack_run('nn', den, released=str(tmp_path / 'released.safetensors'), out=str(tmp_path / 'nn'), boot=20)
    assert res['result']['tpr_1'] >= 50 / 300  # every released member has cosine 1, above every test image
    assert res['threat_model'].startswith('sample-only')
    res = attack_run('pia', den, clf, sampler='cpsample', out=str(tmp_path / 'cp'), boot=20)
    assert res['settings']['alpha'] == 0.01 and res['settings']['scale'] == 10.0  # guidance.SETTINGS['fashion']
