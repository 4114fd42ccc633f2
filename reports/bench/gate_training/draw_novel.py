# exploration (issue 24, session 9): many hard non-members. Draws N batches of 250 plain DDIM samples (shipped Fashion
# denoiser, 50 steps, eta 0) seeded 2000000 + i (disjoint from the evaluation's seeds 0-7 / 0-800 and from the earlier
# hard non-members' 1000000-1000002, 1000100-1000102), saves them with their nearest cosine to S after every batch
# (resumes), then writes the novel ones (cosine <= the held-out threshold) as 16x16 PNGs beside the 4,000 other training
# images of runs/gate/hardneg: the folder for `cpsample train-classifier --nonmembers`.
# run from the repository root: python reports/bench/gate_training/draw_novel.py N OUT_DIR
import sys, time, torch
from pathlib import Path
from PIL import Image
torch.set_num_threads(1)
from cpsample_nb.models import load_shipped_denoiser
from cpsample_nb.data import heldout_threshold, load_fashion_mnist, nn_cosine
from cpsample_nb.sampler import plain_ddim
n_batches, out = int(sys.argv[1]), Path(sys.argv[2])
den = load_shipped_denoiser('fashion', 'cpu')
S = den.subset.images
thr = heldout_threshold(S, load_fashion_mnist('test', 16)[0])
cache = Path('runs/gate9/novel_draw.pt')
F = list(torch.load(cache)['batches']) if cache.exists() else []
for i in range(len(F), n_batches):
    with torch.no_grad():
        F.append(plain_ddim(den.unet, den.scheduler, batch_size=250, generator=torch.Generator().manual_seed(2_000_000 + i), num_inference_steps=50).clamp(-1, 1))
    torch.save({'batches': F}, cache)
    print(i, time.strftime('%X'), flush=True)
X = torch.cat(F)
cos = nn_cosine(X, S)
novel = X[cos <= thr]
print(f'samples {len(X)} copies {int((cos > thr).sum())} novel {len(novel)} threshold {thr:.4f}', flush=True)
out.mkdir(parents=True, exist_ok=True)
for f in Path('runs/gate/hardneg').glob('rest*.png'): (out / f.name).write_bytes(f.read_bytes())
for i, x in enumerate(novel):
    Image.fromarray(((x[0] + 1) * 127.5).round().byte().numpy(), 'L').save(out / f'novel{i:05d}.png')
