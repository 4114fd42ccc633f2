# by band of nearest cosine to S: a classifier's confidence on the cached finished images (runs/gate/eval.pt from cache.py eval)
import torch, sys
torch.set_num_threads(1)
from sklearn.metrics import roc_auc_score
from cpsample_nb.training import load_classifier  # (cpsample_nb.classifier before 86d3a81, as run)
c = torch.load('runs/gate/eval.pt'); cos = c['cos']; copy = cos > c['thr']
for p in sys.argv[1:]:
    clf = load_classifier(p, device='cpu')[0].eval()
    with torch.no_grad(): cf = clf(c['final'], torch.zeros(1000, dtype=torch.long)).float().softmax(1).amax(1)
    print(p)
    for lo, hi in [(0, 0.97), (0.97, 0.98), (0.98, 0.985), (0.985, 0.99), (0.99, c['thr'].item()), (c['thr'].item(), 1.01)]:
        m = (cos >= lo) & (cos < hi)
        print(f'  cos [{lo:.3f},{hi:.3f}): n={int(m.sum())}, conf median {cf[m].median().item():.3f}, fire@0.01 {((1-cf[m])<0.01).float().mean().item():.2f}')
    for lo in [0.97, 0.98, 0.985]:
        m = copy | (cos < lo)
        print(f'  AUC copies vs novel below {lo}:', round(roc_auc_score(copy[m], cf[m]), 3))
