"""CPSample sampler: the diffusers pipeline's save/load round trip, and bad-input and fault cases (nbs/09_sampler.ipynb
holds the method and its main tests)."""
import json
import math

import pytest
import torch
from torch import nn
from diffusers import ConfigMixin, DDIMPipeline, DDIMScheduler, DDPMScheduler, ModelMixin, UNet2DModel
from diffusers.configuration_utils import register_to_config
from diffusers.models.embeddings import TimestepEmbedding, Timesteps

from cpsample_nb.sampler import CPSamplePipeline, cpsample, plain_ddim, rejection_sample
from cpsample_nb.perf import measure_overhead

torch.set_num_threads(1)


class TinyClassifier(ModelMixin, ConfigMixin):
    "A small time-conditioned conv classifier (GroupNorm, no BatchNorm) returning (N, 2) logits."
    @register_to_config
    def __init__(self, in_channels: int = 1, sample_size: int = 8, width: int = 8, logit_scale: float = 1.0):
        super().__init__()
        self.time_proj, self.time_emb = Timesteps(width, True, 0), TimestepEmbedding(width, width)
        self.conv_in = nn.Conv2d(in_channels, width, 3, padding=1)
        self.norm, self.act = nn.GroupNorm(4, width), nn.SiLU()
        self.conv = nn.Conv2d(width, width, 3, stride=2, padding=1)
        self.out = nn.Linear(width, 2)

    def forward(self, x, t):
        h = self.conv_in(x) + self.time_emb(self.time_proj(t).to(x.dtype))[:, :, None, None]
        h = self.conv(self.act(self.norm(h)))
        return self.config.logit_scale * self.out(h.mean((2, 3)))


def tiny_unet(**kw):
    torch.manual_seed(0)
    cfg = dict(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(4, 8), norm_num_groups=4,
               down_block_types=('DownBlock2D',) * 2, up_block_types=('UpBlock2D',) * 2) | kw
    return UNet2DModel(**cfg).eval()


class CountingUnet(nn.Module):
    def __init__(self, unet):
        super().__init__()
        self.unet, self.calls = unet, 0
        self.config = unet.config

    def forward(self, x, t, **kw):
        self.calls += 1
        return self.unet(x, t, **kw)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope='module')
def parts():
    torch.manual_seed(1)
    return tiny_unet(), DDPMScheduler(num_train_timesteps=1000), TinyClassifier(logit_scale=20.0).eval()


# --- the pipeline ------------------------------------------------------------------------------------------

def test_pipeline_round_trip_keeps_the_classifier(parts, tmp_path):
    unet, sched, clf = parts
    pipe = CPSamplePipeline(unet, sched, clf)
    pipe.set_progress_bar_config(disable=True)
    kw = dict(batch_size=3, num_inference_steps=6, alpha=0.5, scale=2.0, output_type='pt')
    before = pipe(generator=gen(4), **kw).images
    pipe.save_pretrained(tmp_path)
    index = json.loads((tmp_path / 'model_index.json').read_text())
    assert index['classifier'] == ['test_sampler', 'TinyClassifier'] and index['scheduler'][1] == 'DDIMScheduler'
    assert (tmp_path / 'classifier' / 'diffusion_pytorch_model.safetensors').exists()
    assert not list(tmp_path.rglob('*.bin')) and not list(tmp_path.rglob('*.pt'))  # nothing loaded with pickle
    loaded = CPSamplePipeline.from_pretrained(tmp_path)
    loaded.set_progress_bar_config(disable=True)
    assert type(loaded.classifier) is TinyClassifier and loaded.classifier.config.logit_scale == 20.0
    for a, b in zip(clf.state_dict().values(), loaded.classifier.state_dict().values()): assert torch.equal(a, b)
    assert torch.equal(loaded(generator=gen(4), **kw).images, before)


def test_pipeline_matches_ddim_pipeline_without_guidance(parts):
    unet, sched, clf = parts
    pipe, ref = CPSamplePipeline(unet, sched, clf), DDIMPipeline(unet, sched)
    for p in (pipe, ref): p.set_progress_bar_config(disable=True)
    for eta in (0.0, 0.5):
        a = pipe(batch_size=4, generator=gen(2), num_inference_steps=7, eta=eta, scale=0.0, output_type='np').images
        b = ref(batch_size=4, generator=gen(2), num_inference_steps=7, eta=eta, output_type='np').images
        assert abs(a - b).max() <= 1e-6
    a = pipe(batch_size=2, generator=gen(2), num_inference_steps=3, return_dict=False)
    assert isinstance(a, tuple) and len(a) == 1 and len(a[0]) == 2


def test_pipeline_with_cfg_and_trace():
    cunet, sched = tiny_unet(num_class_embeds=3), DDPMScheduler()
    pipe = CPSamplePipeline(cunet, sched, TinyClassifier(logit_scale=20.0))
    pipe.set_progress_bar_config(disable=True)
    out = pipe(batch_size=2, generator=gen(), num_inference_steps=4, class_labels=[0, 1], guidance_scale=2.0,
               alpha=0.5, output_type='pt', return_trace=True)
    assert out.images.shape == (2, 1, 8, 8) and out.trace.p1.shape == (2, 4) and out.trace.fire_rate > 0


# --- the sampler's side effects ----------------------------------------------------------------------------

def test_sampler_leaves_scheduler_and_classifier_alone(parts):
    unet, _, clf = parts
    sched = DDIMScheduler()
    before = sched.timesteps.clone()
    _, tr = cpsample(unet, sched, clf, batch_size=3, num_inference_steps=5, alpha=0.5, scale=3.0, generator=gen(), return_trace=True)
    assert tr.fire_rate > 0
    assert sched.num_inference_steps is None and torch.equal(sched.timesteps, before)
    assert all(p.grad is None for p in clf.parameters())  # gradients are taken with respect to x only


def test_guidance_is_applied_inside_no_grad(parts):
    "Users often sample under torch.no_grad() or inference-free contexts: guidance must still act."
    unet, sched, clf = parts
    kw = dict(batch_size=3, num_inference_steps=5, alpha=0.5, scale=3.0)
    free = cpsample(unet, sched, clf, generator=gen(), **kw)
    with torch.no_grad(): inside = cpsample(unet, sched, clf, generator=gen(), **kw)
    plain = plain_ddim(unet, sched, batch_size=3, num_inference_steps=5, generator=gen())
    assert torch.equal(free, inside) and not torch.equal(free, plain)


def test_plain_callables_and_x_T(parts):
    unet, sched, clf = parts
    x_T = torch.randn(2, 1, 8, 8, generator=gen(9))
    f = lambda x, t: unet(x, t).sample  # noqa: E731
    a = cpsample(f, sched, clf, batch_size=2, num_inference_steps=4, x_T=x_T, alpha=0.5)
    b = cpsample(unet, sched, clf, batch_size=2, num_inference_steps=4, generator=gen(9), alpha=0.5)
    assert torch.equal(a, b)  # x_T drawn by hand = x_T drawn from the generator (as randn_tensor does)


# --- bad input: a clear error before sampling ----------------------------------------------------------------

# The alpha / scale / tau / steps / batch-size / eta matrix, the generator, x_T and conditioning checks (each before any
# model call) are asserted in nbs/02_ddim (check_sampling_args), nbs/08_guidance (check_guidance_args) and nbs/09_sampler.


def test_num_inference_steps_follows_the_scheduler():
    sched = DDPMScheduler(num_train_timesteps=50)
    with pytest.raises(ValueError, match="the scheduler's 50 training steps"):
        cpsample(tiny_unet(), sched, TinyClassifier(), batch_size=1, num_inference_steps=51)
    assert cpsample(tiny_unet(), sched, TinyClassifier(), batch_size=1, num_inference_steps=50).shape == (1, 1, 8, 8)


class Const(nn.Module):
    def __init__(self, out): super().__init__(); self.o = out
    def forward(self, x, t): return self.o(x)


@pytest.mark.parametrize('clf, msg', [  # (N, 3) logits: nbs/08_guidance and nbs/09_sampler
    (Const(lambda x: x.flatten(1)[:, 0]), 'returned (1,)'),
    (Const(lambda x: (x, x)), 'returned tuple'),
    (Const(lambda x: x.flatten(1)[:, :2].T), 'returned (2, 1)'),
])
def test_classifier_output_must_be_n_by_2(parts, clf, msg):
    unet, sched, _ = parts
    u = CountingUnet(unet)
    with pytest.raises(ValueError) as e:
        cpsample(u, sched, clf, batch_size=3, num_inference_steps=5)
    assert msg in str(e.value)
    assert u.calls == 1  # the one-sample dry run, nothing more


@pytest.mark.parametrize('clf, msg', [  # a configless classifier of other channels or size: nbs/09_sampler
    (TinyClassifier(in_channels=3), 'classifier.config.in_channels=3'),
    (TinyClassifier(sample_size=16), 'classifier.config.sample_size=16'),
])
def test_unet_and_classifier_must_agree_on_the_image(parts, clf, msg):
    unet, sched, _ = parts
    u = CountingUnet(unet)
    with pytest.raises(ValueError) as e:
        cpsample(u, sched, clf, batch_size=2, num_inference_steps=5)
    assert msg in str(e.value) and 'unet' in str(e.value)
    assert u.calls == 1


def test_unet_problems_are_named(parts):
    "(No sample shape, eps of another shape and a non-scheduler are cells of nbs/09_sampler and nbs/02_ddim.)"
    _, sched, clf = parts
    with pytest.raises(ValueError, match="prediction_type is 'v_prediction', it must be 'epsilon'"):
        cpsample(tiny_unet(), DDPMScheduler(prediction_type='v_prediction'), clf, batch_size=1)
    with pytest.raises(ValueError, match=r'class_labels must be one label or 3 labels'):
        cpsample(tiny_unet(num_class_embeds=3), sched, clf, batch_size=3, class_labels=[0, 1])



def test_device_argument_reaches_the_dry_run(parts):
    "cpsample's `device` is the one the dry run checks the models against (nbs/09_sampler tests `dry_run` itself)."
    unet, sched, clf = parts
    u = CountingUnet(unet)
    with pytest.raises(ValueError, match='the unet is on cpu but the images are sampled on meta'):
        cpsample(u, sched, clf, batch_size=2, num_inference_steps=3, device='meta')
    assert u.calls == 0  # refused before the unet ran, let alone a sampling step


def test_noise_follows_x_T_for_a_plain_callable(parts):
    _, sched, clf = parts
    with pytest.raises(ValueError, match='the classifier is on cpu but the images are sampled on meta'):
        cpsample(lambda x, t: x, sched, clf, batch_size=2, x_T=torch.zeros(2, 1, 8, 8, device='meta'))


# --- measuring the overhead ------------------------------------------------------------------------------------

def test_measure_overhead_with_a_plain_callable_denoiser(parts):
    _, sched, clf = parts
    res = measure_overhead(lambda x, t: 0.5 * x, sched, clf, batch_size=2, num_inference_steps=2, alphas=(0.5,), repeats=2,
                           warmup=0, sample_shape=(1, 8, 8))
    assert res.repeats == 2 and list(res.wall) == ['ddim', 'cpsample a=0.5'] and res.fired == {'cpsample a=0.5': 1.0}
    assert str(res).splitlines()[0].startswith('| method | s/image |') and len(str(res).splitlines()) == 4
    assert json.loads(json.dumps(res.to_dict()))['repeats'] == 2


def test_measure_overhead_checks_before_timing(parts):
    "A classifier that fails is caught by the one-sample dry run before anything is timed (argument errors: nbs/17_perf)."
    unet, sched, clf = parts
    u = CountingUnet(unet)
    with pytest.raises(ValueError, match='the classifier failed on one'):
        measure_overhead(u, sched, lambda x, t: torch.nn.Conv2d(3, 2, 3)(x), batch_size=2, num_inference_steps=2)
    assert u.calls == 1  # the dry run caught it

# --- faults during sampling -----------------------------------------------------------------------------------

@pytest.mark.parametrize('value', [math.nan, math.inf, -math.inf])
def test_non_finite_logits_do_not_poison_images(parts, value):
    "A classifier that returns NaN or infinite logits: images stay finite (NaN logits never fire)."
    unet, sched, _ = parts
    clf = Const(lambda x: torch.stack([x.flatten(1).mean(1) * 0 + value, -x.flatten(1).mean(1)], 1))
    out, tr = cpsample(unet, sched, clf, batch_size=2, num_inference_steps=4, alpha=0.1, scale=100.0, return_trace=True)
    assert torch.isfinite(out).all()
    assert tr.fire_rate == (0.0 if math.isnan(value) else 1.0)


def test_classifier_without_gradient_path_gives_no_guidance(parts):
    "A classifier whose logits do not depend on x (or are detached) cannot guide: sampling equals plain DDIM."
    unet, sched, _ = parts
    detached = Const(lambda x: torch.tensor([[5.0, -5.0]]).expand(len(x), 2))
    a, tr = cpsample(unet, sched, detached, batch_size=2, num_inference_steps=4, alpha=0.1, scale=10.0, generator=gen(), return_trace=True)
    assert tr.fire_rate == 1.0
    assert torch.equal(a, plain_ddim(unet, sched, batch_size=2, num_inference_steps=4, generator=gen()))


def test_rejection_sampling_counts_cfg_evaluations():
    cunet, sched = tiny_unet(num_class_embeds=3), DDPMScheduler()
    r = rejection_sample(cunet, sched, lambda im: torch.zeros(len(im), dtype=torch.bool), batch_size=2, num_inference_steps=3,
                         generator=gen(), class_labels=1, guidance_scale=2.0)
    assert r.images.shape == (2, 1, 8, 8) and r.runs_per_image == 1.0 and r.evals_per_image == 6.0
    with pytest.raises(TypeError, match='one torch.Generator'):
        rejection_sample(cunet, sched, lambda im: im, batch_size=2, generator=[gen(), gen()])
