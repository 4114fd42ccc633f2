"""Evaluation: the paths the notebook cannot cover cheaply (Inception FID with real torch-fidelity code, torchvision /
DINO / torch.export feature loading, a diffusers UNet in the MIA statistic, files written); bad input is asserted in
the notebooks."""
import json
import os
import pickle

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

from cpsample_nb.data import load_faces, load_nonfaces
from cpsample_nb.attacks import membership_inference, reconstruction_loss
from cpsample_nb.compare import evaluate_samples
from cpsample_nb.evaluation import IMAGENET_MEAN, IMAGENET_STD, feature_fn, load_feature_model
from cpsample_nb.quality import FrechetDistance, GaussianStats, frechet_distance


SLOW = 'slow' in os.environ.get('CPSAMPLE_TEST_FLAGS', '').replace(',', ' ').split()


class NotATensor:
    "A pickled object that weights_only loading must refuse."


@pytest.fixture(scope='module')
def faces():
    return load_faces()


def _preprocess(x, size):
    x = F.interpolate(x.expand(-1, 3, -1, -1), size=(size, size), mode='bilinear', antialias=True, align_corners=False)
    return ((x + 1) / 2 - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)


# ---- Inception FID through torch-fidelity, with randomly initialised weights written to a local file ----

@pytest.fixture(scope='module')
def inception_weights(tmp_path_factory):
    fe = pytest.importorskip('torch_fidelity.feature_extractor_inceptionv3')
    mp = pytest.MonkeyPatch()
    mp.setattr(fe, 'load_state_dict_from_url', lambda *a, **k: {})  # never reached the network
    mp.setattr(fe.FeatureExtractorInceptionV3, 'load_state_dict', lambda self, sd, *a, **k: None)
    try:
        torch.manual_seed(0)
        net = fe.FeatureExtractorInceptionV3('inception-v3-compat', ['2048'])
    finally:
        mp.undo()
    for m in net.modules():  # variance-preserving init, so random features differ between images
        if isinstance(m, (nn.Conv2d, nn.Linear)): nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
    path = tmp_path_factory.mktemp('inception') / 'inception-random.pth'
    torch.save(net.state_dict(), path)
    return path


def test_inception_features_from_local_file(faces, inception_weights):
    from cpsample_nb.quality import inception_features
    f = inception_features(inception_weights)(faces[:2])
    assert f.shape == (2, 2048) and torch.isfinite(f).all() and not torch.allclose(f[0], f[1])


@pytest.mark.skipif(not SLOW, reason="299x299 Inception on a CPU: slow (CPSAMPLE_TEST_FLAGS=slow)")
def test_inception_fid_identical_zero_shift_positive(faces, inception_weights):
    fid = FrechetDistance.inception(faces[:4], inception_weights, batch_size=4)  # 299x299 Inception on a CPU: few images
    assert fid.name == 'fid_inception' and len(fid.ref.mu) == 2048
    same, shifted = fid.fid(faces[:4]), fid.fid((faces[:4] + 0.5).clamp(-1, 1))
    assert abs(same) < 1e-6 * shifted and shifted > 0, (same, shifted)


def test_inception_refuses_pickled_objects(tmp_path):
    pytest.importorskip('torch_fidelity')
    bad = tmp_path / 'evil.pth'
    torch.save({'w': torch.zeros(1), 'obj': NotATensor()}, bad)
    with pytest.raises(pickle.UnpicklingError):
        FrechetDistance.inception(load_faces()[:4], bad)


def test_frechet_distance_agrees_with_torch_fidelity():
    metric_fid = pytest.importorskip('torch_fidelity.metric_fid')
    g = torch.Generator().manual_seed(0)
    a = GaussianStats.from_features(torch.randn(300, 6, generator=g))
    b = GaussianStats.from_features(torch.randn(300, 6, generator=g) * 1.5 + 0.3)
    ref = metric_fid.fid_statistics_to_metric({'mu': a.mu, 'sigma': a.sigma}, {'mu': b.mu, 'sigma': b.sigma}, False)
    assert frechet_distance(a, b) == pytest.approx(ref['frechet_inception_distance'], rel=1e-9)


# ---- feature networks from local files ----

def test_torchvision_features_from_safetensors(tmp_path, faces):
    import torchvision
    from safetensors.torch import save_file
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    save_file(net.state_dict(), str(tmp_path / 'r18.safetensors'))
    fn = feature_fn('torchvision', tmp_path / 'r18.safetensors', arch='resnet18', size=32)
    f = fn(faces[:4])
    net.fc = nn.Identity()
    with torch.no_grad():
        expected = F.normalize(net(_preprocess(faces[:4], 32)), dim=1)
    assert f.shape == (4, 512)
    torch.testing.assert_close(f, expected, atol=1e-5, rtol=1e-5)


def test_dino_checkpoint_with_prefix_and_wrapper(tmp_path, faces):
    import torchvision
    torch.manual_seed(1)
    net = torchvision.models.resnet18(weights=None)
    sd = {'module.' + k: v for k, v in net.state_dict().items() if not k.startswith('fc.')}
    torch.save({'state_dict': sd}, tmp_path / 'dino.pth')
    m = load_feature_model(tmp_path / 'dino.pth', 'dino', arch='resnet18')
    net.fc = nn.Identity()
    x = _preprocess(faces[:2], 32)
    with torch.no_grad():
        torch.testing.assert_close(m(x), net.eval()(x))


def test_wrong_architecture_and_pickles_refused(tmp_path):
    import torchvision
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / 'r18.pth')
    with pytest.raises(ValueError, match="do not fit torchvision 'resnet34'"):
        load_feature_model(tmp_path / 'r18.pth', 'torchvision', arch='resnet34')
    with pytest.raises(ValueError, match='needs arch='):
        load_feature_model(tmp_path / 'r18.pth', 'torchvision')
    torch.save({'x': NotATensor()}, tmp_path / 'evil.pth')
    with pytest.raises(pickle.UnpicklingError):
        load_feature_model(tmp_path / 'evil.pth', 'torchvision', arch='resnet18')
    with pytest.raises(FileNotFoundError, match='nothing is downloaded'):
        load_feature_model(tmp_path / 'missing.pt', 'dino')


def test_torch_export_program(tmp_path, faces):
    class Tiny(nn.Module):
        def __init__(self):
            super().__init__(); self.lin = nn.Linear(3, 5)
        def forward(self, x): return self.lin(x.mean((2, 3)))
    torch.manual_seed(0)
    net = Tiny().eval()
    torch.export.save(torch.export.export(net, (torch.zeros(2, 3, 16, 16),)), str(tmp_path / 'tiny.pt2'))
    f = feature_fn('torchscript', tmp_path / 'tiny.pt2', size=16)(faces[:2])
    with torch.no_grad():
        torch.testing.assert_close(f, F.normalize(net(_preprocess(faces[:2], 16)), dim=1), atol=1e-5, rtol=1e-5)


# ---- membership inference with a real diffusers UNet ----

def test_reconstruction_loss_with_unet(faces):
    from diffusers import DDPMScheduler, UNet2DModel
    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(4, 8), layers_per_block=1,
                       norm_num_groups=4, down_block_types=('DownBlock2D', 'DownBlock2D'),
                       up_block_types=('UpBlock2D', 'UpBlock2D')).eval()
    sched = DDPMScheduler(num_train_timesteps=50)
    x = load_faces(8)[:6]
    loss = reconstruction_loss(unet, sched, x, t=10, seed=3, batch_size=4)
    n = torch.randn(x.shape, generator=torch.Generator().manual_seed(3))
    ts = torch.full((6,), 10, dtype=torch.long)
    with torch.no_grad():
        expected = ((n - unet(sched.add_noise(x, n, ts), ts).sample) ** 2).flatten(1).sum(1)
    torch.testing.assert_close(loss, expected)
    r = membership_inference(unet, sched, x, load_nonfaces(8)[:6], t=10, name='ddim')
    assert (r.n_members, r.n_nonmembers, r.t) == (6, 6, 10) and 0 <= r.p_value <= 1
    assert json.loads(r.to_json())['name'] == 'ddim'


# ---- outputs (bad input: the notebooks 11_quality, 12_evaluation and 13_compare) ----

def test_evaluate_samples_writes_figures_and_json(tmp_path, faces):
    nonfaces = load_nonfaces()
    ev = evaluate_samples({'ddim': torch.cat([faces[:8], nonfaces[:8]]), 'cpsample': nonfaces[8:24]}, faces,
                          heldout=nonfaces[24:], out=tmp_path / 'figs', k_pairs=3)
    for name in ('similarity_hist.png', 'most_similar_pairs.png'):
        with Image.open(tmp_path / 'figs' / name) as im:
            assert im.size[0] > 100 and im.size[1] > 50
    assert ev.samplers['ddim'].shares[0.95] == 0.5 and ev.samplers['cpsample'].shares[0.95] == 0.0
    ev.to_json(tmp_path / 'ev.json')
    back = json.loads((tmp_path / 'ev.json').read_text())
    assert back['samplers']['ddim']['shares'] == {'0.95': 0.5, '0.97': 0.5}
    assert back['figures']['most_similar_pairs'].endswith('most_similar_pairs.png')
    s = ev.summary(0.97)
    assert s['replication_ddim'] == 0.5 and s['chi2_p_value'] < 0.01 and s['quality_measure'] == 'frechet_pixel_pca32'
    with pytest.raises(ValueError, match='was not evaluated'):
        ev.summary(0.9)
    text = str(ev)
    assert 'heldout' in text and 'p(chi2)@0.95' in text
