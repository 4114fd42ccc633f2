# hard non-members for `train-classifier --nonmembers runs/gate/hardneg`: the shipped Fashion denoiser's own novel samples
# (cache.py train 3: 750 plain DDIM samples, 50 steps, seeds 1000000-1000002, batch 250; copies above the held-out
# threshold dropped) and 4,000 other training images outside the protected subset (seed 7), as 16x16 PNGs
import torch
from pathlib import Path
from PIL import Image
from cpsample_nb.data import load_fashion_mnist, protected_subset
c = torch.load('runs/gate/train.pt')
novel = c['final'][c['cos'] <= c['thr']]
print('train samples', len(c['final']), 'copies', int((c['cos'] > c['thr']).sum()), 'novel', len(novel))
tr = load_fashion_mnist('train', 16)[0]
sub = protected_subset(tr, 300, 0)
keep = torch.ones(len(tr), dtype=torch.bool); keep[sub.indices] = False
rest = tr[keep][torch.randperm(int(keep.sum()), generator=torch.Generator().manual_seed(7))[:4000]]
out = Path('runs/gate/hardneg'); out.mkdir(exist_ok=True)
for name, xs in [('novel', novel), ('rest', rest)]:
    for i, x in enumerate(xs):
        a = ((x[0].clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
        Image.fromarray(a, 'L').save(out / f'{name}{i:05d}.png')
