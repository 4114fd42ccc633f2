"""Attacks: what the notebook does not cover, `attack_run` (the function behind `cpsample attack`) on the shipped
Fashion-MNIST models, its files and option errors."""
import json

import pytest
import torch
from safetensors.torch import save_file

from cpsample_nb.attack_runner import attack_run, load_attack_images
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
    "CPSample's eps needs the classifier; the sample-only attack reads released samples from a file."
    den, clf, _ = fashion
    S = den.subset.images
    save_file({'images': S[:50].contiguous()}, str(tmp_path / 'released.safetensors'))  # a sampler that released 50 members
    res = attack_run('nn', den, released=str(tmp_path / 'released.safetensors'), out=str(tmp_path / 'nn'), boot=20)
    assert res['result']['tpr_1'] >= 50 / 300  # every released member has cosine 1, above every test image
    assert res['threat_model'].startswith('sample-only')
    with pytest.raises(ValueError, match='--sampler cpsample needs --classifier'):
        attack_run('pia', den, sampler='cpsample', out=str(tmp_path / 'x'))
    res = attack_run('pia', den, clf, sampler='cpsample', out=str(tmp_path / 'cp'), boot=20)
    assert res['settings']['alpha'] == 0.01 and res['settings']['scale'] == 10.0  # guidance.SETTINGS['fashion']


@pytest.mark.parametrize('kw, says', [
    ({'kind': 'side'}, '--kind must be one of loss, secmi, pia, nn'),
    ({'kind': 'pia', 'sampler': 'gan'}, '--sampler must be one of ddim, rejection, cpsample, amg'),
    ({'kind': 'nn', 'features': 'learned'}, '--features learned needs the quality classifier'),
    ({'kind': 'nn', 'features': 'dino'}, '--features must be pixels or learned'),
    ({'kind': 'pia', 'amg': '0.9'}, '--amg must be THRESHOLD:SCALE'),
    ({'kind': 'pia', 'members': 'no/such/file.safetensors'}, '--members: no/such/file.safetensors does not exist'),
])
def test_option_errors(fashion, tmp_path, kw, says):
    with pytest.raises((ValueError, FileNotFoundError), match=says.replace('.', r'\.')):
        attack_run(den=fashion[0], out=str(tmp_path / 'x'), **kw)
    assert not (tmp_path / 'x').exists()  # nothing written


def test_image_files(tmp_path):
    x = torch.rand(3, 1, 16, 16) * 2 - 1
    save_file({'images': x}, str(tmp_path / 'a.safetensors'))
    assert torch.equal(load_attack_images(tmp_path / 'a.safetensors', 16, 1), x)
    (tmp_path / 'b.txt').write_text('x')
    with pytest.raises(ValueError, match='--nonmembers: .* is neither a .safetensors file nor a folder'):
        load_attack_images(tmp_path / 'b.txt', 16, 1, '--nonmembers')
    with pytest.raises(ValueError, match=r'the images are \(1, 16, 16\), the model takes \(3, 16, 16\)'):
        load_attack_images(tmp_path / 'a.safetensors', 16, 3)
