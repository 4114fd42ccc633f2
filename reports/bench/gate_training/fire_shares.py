# exploration (issue 24, session 9): on the cached 1,000 evaluation trajectories, the share of copy and of novel
# trajectories on which a gate (the product of several classifiers' confidences on x0_hat, t read 0) exceeds each
# threshold at some step, and the first step where it does (median t over the trajectories it fires on).
# run from the repository root: python fire_shares.py DIR[+DIR...] THRESHOLD ...
import sys, torch
torch.set_num_threads(1)
from cpsample_nb.training import load_classifier
c = torch.load('runs/gate/eval.pt'); copy = c['cos'] > c['thr']; ts = c['timesteps']
def conf(clf, x):
    with torch.no_grad(): return torch.cat([clf(x[i:i + 500], torch.zeros(len(x[i:i + 500]), dtype=torch.long)).float().softmax(1).amax(1) for i in range(0, len(x), 500)])
S = None
for d in sys.argv[1].split('+'):
    clf = load_classifier(d, device='cpu')[0].eval()
    s = torch.stack([conf(clf, c['x0'][:, k].clamp(-1, 1)) for k in range(len(ts))], 1)
    S = s if S is None else S * s
for th in map(float, sys.argv[2:]):
    over = S > th; fired = over.any(1)
    first = ts[over.float().argmax(1)]
    print(f"threshold {th:g}: fires on {fired[copy].float().mean():.1%} of copies (first at median t {first[fired & copy].float().median():.0f}), "
          f"{fired[~copy].float().mean():.1%} of novel (first at median t {first[fired & ~copy].float().median():.0f})", flush=True)
