# exploration (issue 24 item 2); run from the repository root with the package on the path: python cache.py eval | train N
# exploration cache: 1000 eval trajectories (bench gate's seeds) + 4000 plain-DDIM samples from other seeds (hard non-members)
import torch, sys, time
torch.set_num_threads(1)
from diffusers import DDIMScheduler
from cpsample_nb.models import load_shipped_denoiser
from cpsample_nb.data import heldout_threshold, load_fashion_mnist, nn_cosine
from cpsample_nb.ddim import _eps_of, ddim_loop, sample_shape, x0_hat
from diffusers.utils.torch_utils import randn_tensor
den = load_shipped_denoiser('fashion', 'cpu')
S = den.subset.images
test = load_fashion_mnist('test', 16)[0]
thr = heldout_threshold(S, test)
ddim = DDIMScheduler.from_config(den.scheduler.config); ddim.set_timesteps(50)
shape = sample_shape(den.unet)
def run(seeds, bs, keep):
    X, X0, F = [], [], []
    for sd in seeds:
        xs, x0s = [], []
        def eps_fn(x, t):
            with torch.no_grad(): eps = _eps_of(den.unet, x, t)
            if keep:
                xs.append(x.clone()); x0s.append(x0_hat(x, eps, ddim.alphas_cumprod[int(t)].item()))
            return eps
        x = randn_tensor((bs, *shape), generator=torch.Generator().manual_seed(sd))
        with torch.no_grad(): F.append(ddim_loop(ddim, x, eps_fn).clamp(-1, 1))
        if keep: X.append(torch.stack(xs, 1)); X0.append(torch.stack(x0s, 1))
        print(sd, time.strftime('%X'), flush=True)
        if not keep: torch.save({'final': torch.cat(F)}, f'runs/gate/{which}_partial.pt')
    F = torch.cat(F)
    out = {'final': F, 'cos': nn_cosine(F, S), 'thr': torch.tensor(thr), 'timesteps': ddim.timesteps.clone()}
    if keep: out.update(xt=torch.cat(X), x0=torch.cat(X0))
    return out
which = sys.argv[1]
if which == 'eval':
    torch.save(run([0, 200, 400, 600, 800], 200, True), 'runs/gate/eval.pt')
else:
    torch.save(run([10**6 + (100 if which == 'train2' else 0) + i for i in range(int(sys.argv[2]))], 250, False), f'runs/gate/{which}.pt')
