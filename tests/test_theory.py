"Fault and bad-input cases for `cpsample_nb.theory` (the notebook holds the maths checks)."
import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from cpsample_nb.theory import EmpiricalDenoiser, replication_rate
from cpsample_nb.ddim import ddim_sample


@pytest.fixture
def setup():
    g = torch.Generator().manual_seed(0)
    return torch.rand(7, 1, 4, 4, generator=g) * 2 - 1, DDPMScheduler(num_train_timesteps=1000)


def test_chunking_and_batched_timesteps_agree(setup):
    tr, sched = setup
    x = torch.randn(10, 1, 4, 4, generator=torch.Generator().manual_seed(1))
    t = torch.arange(0, 1000, 100)
    full = EmpiricalDenoiser(tr, sched, sigma=0.2)(x, t)
    torch.testing.assert_close(EmpiricalDenoiser(tr, sched, sigma=0.2, chunk=3)(x, t), full)
    per = torch.cat([EmpiricalDenoiser(tr, sched, sigma=0.2)(x[i:i + 1], int(t[i])) for i in range(10)])
    torch.testing.assert_close(per, full)


def test_weights_are_one_hot_near_t0_and_uniform_at_large_sigma(setup):
    tr, sched = setup
    den = EmpiricalDenoiser(tr, sched)
    a = sched.alphas_cumprod[0]
    x = a.sqrt() * tr[3:4] + (1 - a).sqrt() * 0.01 * torch.ones(1, 1, 4, 4)
    # close to one training image at t=0: eps points back at exactly that image
    x0 = (x - (1 - a).sqrt() * den(x, 0)) / a.sqrt()
    torch.testing.assert_close(x0, tr[3:4], atol=1e-4, rtol=0)
    # huge sigma: every image gets the same weight, so x0_hat is shrunk towards the mean of the set
    big = EmpiricalDenoiser(tr, sched, sigma=1e4)
    assert torch.isfinite(big(x, 500)).all()


def test_dtype_and_extreme_inputs(setup):
    tr, sched = setup
    den = EmpiricalDenoiser(tr, sched)
    x = torch.randn(2, 1, 4, 4, dtype=torch.float64)
    assert den(x, 10).dtype == torch.float64
    assert torch.isfinite(den(torch.full((2, 1, 4, 4), 1e6), 0)).all()
    assert torch.isfinite(den(torch.zeros(2, 1, 4, 4), 999)).all()


def test_bad_inputs(setup):
    tr, sched = setup
    with pytest.raises(ValueError, match='non-empty'): EmpiricalDenoiser(tr[:0], sched)
    with pytest.raises(ValueError, match='non-empty'): EmpiricalDenoiser(tr.numpy(), sched)
    # a NaN sigma and a 2-D x_t: 03_theory's cells


def test_ddim_sample_is_seeded_and_works_with_a_ddim_scheduler(setup):
    tr, sched = setup
    den = EmpiricalDenoiser(tr, sched)
    a = ddim_sample(den, DDIMScheduler.from_config(sched.config), 5, 10, generator=torch.Generator().manual_seed(3))
    b = ddim_sample(den, sched, 5, 10, generator=torch.Generator().manual_seed(3), batch_size=2)
    torch.testing.assert_close(a, b)
    assert replication_rate(a, tr) == 1.0
    assert replication_rate(-a, tr, threshold=0.999) < 1.0
