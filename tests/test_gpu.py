"""GPU readiness: CPSample sampling, one training step of the classifier and the evaluation on CUDA, in float32 and
float16, each compared with the same computation on the CPU in float32. Skipped where torch sees no CUDA device.

Tolerances, and why:
- float32: CUDA and CPU kernels add in different orders, so they agree to float32 rounding per operation (~1e-7
  relative), which a sampling run amplifies (on the CPU, a 1e-6 relative change of the initial noise moves the shipped
  faces models' CPSample images, 20 steps, by up to 3.5e-4). Bounds: images 2e-3 (pixels in [-1, 1]), losses 1e-4
  relative, cosine similarities 1e-5. TF32 (cuDNN's default for convolutions on Ampere and later GPUs, a 10-bit
  mantissa) is switched off here: with it "float32" would be a 10-bit computation.
- float16: every activation is rounded to a 10-bit mantissa (~5e-4 relative) in every layer at every step, and a
  sampling trajectory can then settle on another training image (on the CPU, float16 against float32 from the same
  noise: median per-image error 0.005 at scale 10, and one image in 16 elsewhere entirely). So images are compared by
  the median over images of the per-image max error (<= 0.05), losses within 3e-2 relative, gradients by their cosine
  (>= 0.99), similarities within 5e-3.
- CPSample's rule is a threshold: where p(y | x_t) sits at alpha the two devices can decide differently, and the
  sample then takes another path. Images are compared where every decision agreed, which must be most of them
  (90% of the samples in float32, 75% in float16).
"""
import copy

import pytest
import torch
from diffusers import DDPMScheduler
from diffusers.utils import logging as diffusers_logging

from cpsample_nb.sampler import cpsample
from cpsample_nb.perf import machine_description, measure_overhead
from test_sampler import TinyClassifier, tiny_unet

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')

CPU, CUDA = torch.device('cpu'), torch.device('cuda')
DTYPES = {'fp32': torch.float32, 'fp16': torch.float16}
TOL = {torch.float32: dict(image=2e-3, same=0.9, loss=1e-4, sim=1e-5),
       torch.float16: dict(image=5e-2, same=0.75, loss=3e-2, sim=5e-3)}


@pytest.fixture(autouse=True)
def no_tf32():
    "float32 means float32 (no TF32), and diffusers' note on `.to(dtype)` casts stays quiet; both restored afterwards."
    old, verbosity = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32), diffusers_logging.get_verbosity()
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    diffusers_logging.set_verbosity_error()
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old
    diffusers_logging.set_verbosity(verbosity)


@pytest.fixture(scope='module')
def faces():
    "The shipped faces denoiser and classifier, on the CPU: (Denoiser, classifier)."
    from cpsample_nb.models import load_models
    den, clf, _ = load_models('faces', 'faces')
    return den, clf


def image_shape(unet) -> tuple:
    c = unet.config
    return (c.in_channels, c.sample_size, c.sample_size)


def tiny_models():
    torch.manual_seed(1)
    return tiny_unet(), DDPMScheduler(num_train_timesteps=1000), TinyClassifier(logit_scale=20.0).eval()


def sample_on(dev, dtype, unet, sched, clf, x_T, **kw):
    "CPSample from `x_T` with copies of the models on `dev` in `dtype`: (images in float32 on the CPU, trace)."
    u, c = (copy.deepcopy(m).to(dev, dtype) for m in (unet, clf))
    out, trace = cpsample(u, sched, c, batch_size=len(x_T), x_T=x_T.to(dev, dtype), return_trace=True, **kw)
    assert out.device.type == dev.type and out.dtype == dtype
    return out.float().cpu(), trace


def check_cpsample(dev, dtype, unet, sched, clf, n: int, **kw):
    "CPSample on `dev` in `dtype` against the CPU in float32, from the same noise."
    x_T = torch.randn((n, *image_shape(unet)), generator=torch.Generator().manual_seed(0))
    ref, tr_ref = sample_on(CPU, torch.float32, unet, sched, clf, x_T, **kw)
    out, tr = sample_on(dev, dtype, unet, sched, clf, x_T, **kw)
    tol = TOL[dtype]
    assert torch.isfinite(out).all() and out.abs().max() <= 1
    same = (tr_ref.toward == tr.toward).all(1)
    assert same.float().mean() >= tol['same'], f'{(~same).sum()} of {n} samples took other decisions'
    err = (out - ref).flatten(1).abs().amax(1)[same]
    worst = err.max() if dtype == torch.float32 else err.median()
    assert worst <= tol['image'], f'{dtype}: per-image max errors {err.tolist()}'
    assert abs(tr.fire_rate - tr_ref.fire_rate) <= 1 - tol['same']


@pytest.mark.parametrize('dtype', DTYPES.values(), ids=DTYPES)
def test_cpsample_tiny_models_match_the_cpu(dtype):
    check_cpsample(CUDA, dtype, *tiny_models(), n=16, num_inference_steps=10, alpha=0.1, scale=2.0)


@pytest.mark.parametrize('dtype', DTYPES.values(), ids=DTYPES)
def test_cpsample_faces_models_match_the_cpu(faces, dtype):
    den, clf = faces
    check_cpsample(CUDA, dtype, den.unet, den.scheduler, clf, n=32, num_inference_steps=20, alpha=0.5, scale=10.0)


def check_generators(dev):
    "Generators on `dev` (one, or one per image) seed the noise there, with eta > 0 too; runs repeat exactly."
    unet, sched, clf = tiny_models()
    unet, clf = unet.to(dev), clf.to(dev)
    run = lambda g: cpsample(unet, sched, clf, batch_size=4, num_inference_steps=5, alpha=0.5, scale=2.0, eta=1.0, generator=g)  # noqa: E731
    a, b = run(torch.Generator(dev).manual_seed(3)), run(torch.Generator(dev).manual_seed(3))
    assert a.device.type == dev.type and torch.equal(a, b)
    one_each = run([torch.Generator(dev).manual_seed(i) for i in range(4)])
    assert torch.isfinite(one_each).all() and not torch.equal(one_each, a)
    res = measure_overhead(unet, sched, clf, batch_size=4, num_inference_steps=3, repeats=2)
    assert res.device.startswith(dev.type) and res.repeats == 2 and res.fired['cpsample a=0.5'] == 1.0
    assert res.machine == machine_description(dev) and (dev.type != 'cuda' or torch.cuda.get_device_name(dev) in res.machine)


def test_generators_on_the_device():
    check_generators(CUDA)


def check_train_step(dev, images):
    "Two training steps of the classifier (`TrainingRun.train_step`, float32) on the CPU and on `dev`: the same losses."
    from accelerate.state import AcceleratorState
    from cpsample_nb.training import TrainConfig, start_run
    cfg, losses = TrainConfig(steps=2, batch_size=16, eval_every=0, checkpoint_every=0), []
    for d in (CPU, dev):
        AcceleratorState._reset_state(True)  # accelerate keeps one device per process: a second Accelerator would reuse the first's
        run = start_run(images, None, cfg, None, 0, None, DDPMScheduler(num_train_timesteps=1000), resume=False, device=str(d))
        assert run.acc.device.type == d.type and next(run.raw.parameters()).device.type == d.type
        x, y = run.images.to(run.acc.device), run.labels.to(run.acc.device)
        losses.append([run.train_step(x, y) for _ in range(cfg.steps)])
    AcceleratorState._reset_state(True)
    assert losses[1] == pytest.approx(losses[0], rel=TOL[torch.float32]['loss']), losses


def check_train_step_fp16(dev, images):
    "The classifier's loss and gradients under float16 autocast on `dev` against float32 on the CPU, for one batch."
    from cpsample_nb.training import TrainConfig, build_classifier, classifier_loss, draw_batch
    from cpsample_nb.classifier import random_labels
    sched, y = DDPMScheduler(num_train_timesteps=1000), random_labels(len(images), 0)
    idx, t, noise = draw_batch(len(images), images.shape[1:], TrainConfig(batch_size=32), 1000, torch.Generator().manual_seed(0))
    out = []
    for d, amp in ((CPU, False), (dev, True)):
        model = build_classifier(images, None, seed=0).to(d)
        with torch.autocast(d.type, dtype=torch.float16, enabled=amp):
            loss = classifier_loss(model, sched, images[idx].to(d), y[idx].to(d), t.to(d), noise.to(d))
        loss.backward()
        out.append((loss.item(), torch.cat([p.grad.flatten() for p in model.parameters()]).cpu()))
    (l32, g32), (l16, g16) = out
    assert torch.isfinite(g16).all() and l16 == pytest.approx(l32, rel=TOL[torch.float16]['loss'])
    assert torch.nn.functional.cosine_similarity(g16, g32, dim=0) >= 0.99


def test_classifier_train_step_fp32(faces):
    check_train_step(CUDA, faces[0].subset.images)


def test_classifier_train_step_fp16(faces):
    check_train_step_fp16(CUDA, faces[0].subset.images)


def check_evaluation(dev, dtype, train):
    "Nearest-neighbour cosines (`nn_cosine` on the device, `NNIndex`) and the replication share from `dev` in `dtype`."
    from cpsample_nb.data import nn_cosine
    from cpsample_nb.evaluation import NNIndex, replication_share
    g, tol = torch.Generator().manual_seed(0), TOL[dtype]['sim']
    q = torch.cat([train[:20] + s * torch.randn(train[:20].shape, generator=g) for s in (0.02, 0.1, 0.3)]).clamp(-1, 1)
    ref, ref_idx = NNIndex(train).query(q, k=2)
    sims, idx = NNIndex(train.to(dev, dtype)).query(q.to(dev, dtype), k=2)
    on_dev = nn_cosine(q.to(dev, dtype), train.to(dev, dtype))
    assert on_dev.device.type == dev.type
    torch.testing.assert_close(sims, ref, atol=tol, rtol=0)
    torch.testing.assert_close(on_dev.float().cpu(), ref[:, 0], atol=tol, rtol=0)
    clear = ref[:, 0] - ref[:, 1] > 2 * tol  # the nearest image is unambiguous
    assert torch.equal(idx[clear, 0], ref_idx[clear, 0])
    at_threshold = ((ref[:, 0] - 0.95).abs() <= tol).float().mean().item()
    assert abs(replication_share(sims[:, 0]) - replication_share(ref[:, 0])) <= at_threshold
    assert 0 < replication_share(ref[:, 0]) < 1  # the queries straddle the threshold


@pytest.mark.parametrize('dtype', DTYPES.values(), ids=DTYPES)
def test_evaluation_matches_the_cpu(faces, dtype):
    check_evaluation(CUDA, dtype, faces[0].subset.images)


def check_helpers(dev):
    "The helpers outside the sampler on `dev`: theory's DDIM with a generator there, SIDE's cohesion, the quality classifier's training."
    from cpsample_nb.quality import train_fashion_classifier
    from cpsample_nb.side import cohesion
    from cpsample_nb.ddim import ddim_sample
    unet, sched, _ = tiny_models()
    x = ddim_sample(unet.to(dev), sched, 3, 4, generator=torch.Generator(dev).manual_seed(0))
    assert x.device.type == dev.type and torch.isfinite(x).all()
    f = torch.nn.functional.normalize(torch.randn(10, 4, generator=torch.Generator().manual_seed(0)), dim=1)
    assign = torch.arange(10) % 3
    ref = cohesion(f, f[:3], assign)
    assert torch.allclose(cohesion(f.to(dev), f[:3].to(dev), assign.to(dev)).cpu(), ref, atol=1e-6)
    imgs = torch.rand(40, 1, 8, 8, generator=torch.Generator().manual_seed(1)) * 2 - 1
    labels = torch.arange(40) % 2
    nets = [train_fashion_classifier(imgs, labels, steps=3, batch_size=8, progress=False, device=d, width=8, dropout=0.0) for d in (CPU, dev)]
    assert next(nets[1].parameters()).device.type == dev.type
    a, b = (n.to(CPU)(imgs) for n in nets)  # the same draws on both devices: the same weights to float32 rounding
    assert torch.allclose(a, b, atol=1e-3), (a - b).abs().max()


def test_helpers_on_the_device():
    check_helpers(CUDA)
