"""Pictures for copy_lines (issue 24): plain DDIM's copies beside what CPSample and the label-bit gate make from the same
noise, and the training image they copy. Redraws the first --n images of the frontier's noise (batch i of 250 seeded
with i, as `bench.py frontier --seed 0`), so its rows are the first rows of reports/bench/frontier_n4000.json.
Run: .venv/bin/python reports/bench/nudged_pictures.py G OUT.png [--n 500]   (G: the three label-bit classifiers, DIR+DIR+DIR)"""
import argparse
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
import torch
from cpsample_nb.data import heldout_threshold, load_fashion_mnist, nn_cosine
from cpsample_nb.experiments import sample_in_batches
from cpsample_nb.guidance import SETTINGS, GatedGuidance, classifier_gate
from cpsample_nb.models import load_models
from cpsample_nb.sampler import cpsample, guided_ddim, plain_ddim

p = argparse.ArgumentParser(); p.add_argument('gate'); p.add_argument('png'); p.add_argument('--n', type=int, default=500); p.add_argument('--show', type=int, default=10)
a = p.parse_args()
torch.set_num_threads(2)
den, clf, _ = load_models('fashion', 'fashion'); S = den.subset.images
thr = heldout_threshold(S, load_fashion_mnist('test', 16)[0])
gate = classifier_gate([load_models('fashion', d)[1] for d in a.gate.split('+')], 'x0_hat'); cp = SETTINGS['fashion']
draw = {'plain DDIM': lambda batch_size, generator: plain_ddim(den.unet, den.scheduler, batch_size=batch_size, generator=generator),
        'CPSample': lambda batch_size, generator: cpsample(den.unet, den.scheduler, clf, batch_size=batch_size, generator=generator, alpha=cp['alpha'], scale=cp['scale']),
        'label-bit gate': lambda batch_size, generator: guided_ddim(den.unet, den.scheduler, GatedGuidance(clf, gate, 0.15, scale=cp['scale'], tau=cp['tau'], t_max=450),
                                                                     batch_size=batch_size, generator=generator)}
x = {k: torch.cat(sample_in_batches(f, a.n, 250, 0, 'cpu', k)) for k, f in draw.items()}
nn = {k: nn_cosine(v, S, return_index=True) for k, v in x.items()}
bc, bi = nn['plain DDIM']
cc, ci = nn['CPSample']
nudged = ((bc > thr) & (cc <= thr) & (cc >= 0.98) & (ci == bi)).nonzero()[:, 0]
print(f'{int((bc > thr).sum())} plain DDIM copies in the first {a.n}; CPSample nudged {len(nudged)} of them (same image, cosine 0.98-{thr:.4f})')
show = nudged[:a.show]
test = load_fashion_mnist('test', 16)[0]; tc, ti = nn_cosine(test, S, return_index=True)
band = ((tc >= 0.98) & (tc <= thr)).nonzero()[:, 0]  # control: held-out images as close to S as the nudged samples (never trained on)
print(f'held-out control: {len(band)} of {len(test)} test images at nearest cosine 0.98-{thr:.4f}')
ctrl = band[torch.randperm(len(band), generator=torch.Generator().manual_seed(0))[:len(show)]]
fig, ax = plt.subplots(6, len(show), figsize=(1.3 * len(show), 9.6), squeeze=False)
for j, i in enumerate(show.tolist()):
    col = [('training image', S[bi[i]], None), ('plain DDIM', x['plain DDIM'][i], bc[i]), ('CPSample', x['CPSample'][i], cc[i]),
           ('label-bit gate', x['label-bit gate'][i], nn['label-bit gate'][0][i])]
    for r, (name, im, c) in enumerate(col):
        ax[r, j].imshow(im[0].numpy(), cmap='gray', vmin=-1, vmax=1); ax[r, j].set_xticks([]); ax[r, j].set_yticks([])
        ax[r, j].set_title(f'{c:.3f}' if c is not None else f'S[{int(bi[i])}]', fontsize=7)
        if j == 0: ax[r, j].set_ylabel(name, fontsize=8)
for j, i in enumerate(ctrl.tolist()):
    for r, (name, im, c) in enumerate([('held-out image', test[i], tc[i]), ('its nearest in S', S[ti[i]], None)], start=4):
        ax[r, j].imshow(im[0].numpy(), cmap='gray', vmin=-1, vmax=1); ax[r, j].set_xticks([]); ax[r, j].set_yticks([])
        ax[r, j].set_title(f'{c:.3f}' if c is not None else f'S[{int(ti[i])}]', fontsize=7)
        if j == 0: ax[r, j].set_ylabel(name, fontsize=8)
fig.suptitle(f"Rows 1-4: plain DDIM copies that CPSample 'removed' by moving them below the copy line ({thr:.4f}), same noise.\nRows 5-6 (control): "
             f"held-out test images at the same cosine (0.98-{thr:.4f}) and their nearest image of S. Titles: nearest cosine to S", fontsize=8)
fig.tight_layout(); fig.savefig(a.png, dpi=120); print('wrote', a.png)
