# exploration (issue 24, session 9): a classifier trained on what the x0_hat gate reads. Members (the 300 images of S,
# random labels of seed 0 as train-classifier draws them) and non-members (a --nonmembers folder: the denoiser's novel
# samples + other training images) are noised at t ~ U{20..450} and passed through the shipped denoiser; the classifier
# (the shipped network, GUIDANCE_NET) is trained on the clamped x0_hat told t = 0, half the batch on clean images
# (as the 'hardneg' classifier), with members' cross-entropy + non-members' cross-entropy to p = 1/2 (the package's loss).
# Saved as a train-classifier checkpoint, so bench.py --x0 DIR and probe.py read it.
# run from the repository root: python reports/bench/gate_training/x0train.py NONMEMBER_DIR OUT_DIR [STEPS] [DRAWS] [SEED]
import sys, time, torch, torch.nn.functional as F
from pathlib import Path
from diffusers.training_utils import EMAModel
torch.set_num_threads(1)
from cpsample_nb.models import load_shipped_denoiser
from cpsample_nb.data import load_image_folder
from cpsample_nb.classifier import random_labels
from cpsample_nb.training import build_classifier, save_checkpoint
from cpsample_nb.ddim import _eps_of
nm_dir, out = sys.argv[1], Path(sys.argv[2])
steps, draws, seed = (int(sys.argv[3]) if len(sys.argv) > 3 else 3000), (int(sys.argv[4]) if len(sys.argv) > 4 else 40), (int(sys.argv[5]) if len(sys.argv) > 5 else 0)
den = load_shipped_denoiser('fashion', 'cpu')
S, sch = den.subset.images, den.scheduler
Z = load_image_folder(nm_dir, 16)
g = torch.Generator().manual_seed(seed)
def estimates(x, k):  # k denoiser estimates x0_hat per image, t ~ U{20..450}
    out, xs = [], x.repeat(k, 1, 1, 1)
    for i in range(0, len(xs), 500):
        x0 = xs[i:i + 500]; t = torch.randint(20, 451, (len(x0),), generator=g)
        xt = sch.add_noise(x0, torch.randn(x0.shape, generator=g), t)
        with torch.no_grad(): eps = _eps_of(den.unet, xt, t)
        ab = sch.alphas_cumprod[t].view(-1, 1, 1, 1)
        out.append(((xt - (1 - ab).sqrt() * eps) / ab.sqrt()).clamp(-1, 1))  # ddim.x0_hat per image
    return torch.cat(out)
t0 = time.time()
XS = estimates(S, draws); XZ = estimates(Z, max(1, round(draws * len(S) / len(Z))))
print(f'estimates: members {len(XS)}, non-members {len(XZ)} ({len(Z)} images), {time.time() - t0:.0f} s', flush=True)
labels = random_labels(len(S), 0)
YS = labels.repeat(draws)
model = build_classifier(S, None, seed)
opt = torch.optim.AdamW(model.parameters(), lr=5e-3, weight_decay=0.0)
ema = EMAModel(model.parameters(), decay=0.99)
B = 128
for step in range(1, steps + 1):
    h = B // 2  # half clean images, half denoiser estimates
    im, iz = torch.randint(0, len(S), (h,), generator=g), torch.randint(0, len(Z), (h,), generator=g)
    em, ez = torch.randint(0, len(XS), (h,), generator=g), torch.randint(0, len(XZ), (h,), generator=g)
    xm, ym = torch.cat([S[im], XS[em]]), torch.cat([labels[im], YS[em]])
    xz = torch.cat([Z[iz], XZ[ez]])
    logits = model(torch.cat([xm, xz]), torch.zeros(2 * B, dtype=torch.long))
    lz = logits[B:].float().log_softmax(1)
    loss = F.cross_entropy(logits[:B], ym) - lz.mean()  # members' CE + non-members' CE to (1/2, 1/2)
    loss.backward(); torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); opt.step(); opt.zero_grad(set_to_none=True); ema.step(model.parameters())
    if step % 250 == 0: print(step, f'{loss.item():.4f}', time.strftime('%X'), flush=True)
    if step % 1000 == 0 or step == steps:
        save_checkpoint(out, step, model, ema, opt, g, labels, {'seed': 0}, sch, {'x0train': sys.argv[1:], 'draws': draws}, keep=3)
print(f'done {time.time() - t0:.0f} s', flush=True)
