# operating point: the alpha at which the gate fires (at some step) on 5% of novel trajectories, and its share of copies
import torch, sys
torch.set_num_threads(1)
from cpsample_nb.training import load_classifier  # (cpsample_nb.classifier before 86d3a81, as run)
from cpsample_nb.models import load_shipped_classifier
c = torch.load('runs/gate/eval.pt'); copy = c['cos'] > c['thr']; ts = c['timesteps'].tolist()
for spec in sys.argv[1:]:
    path, read = spec.split(':')
    clf = (load_shipped_classifier('fashion', 'cpu')[0] if path == 'shipped' else load_classifier(path, device='cpu')[0]).eval()
    S = []
    with torch.no_grad():
        for k, t in enumerate(ts):
            x, tt = (c['xt'][:, k], t) if read == 'xt' else (c['x0'][:, k].clamp(-1, 1), 0)
            S.append(clf(x, torch.full((len(x),), int(tt))).float().softmax(1).amax(1))
    m = torch.stack(S, 1).amax(1)  # the most confident step: fires at alpha iff 1 - m < alpha
    thr = torch.quantile(m[~copy].double(), 0.95).item()
    print(spec, f'alpha for 5% novel: {1 - thr:.2e}; fires on copies {(m[copy] > thr).float().mean().item():.3f}, novel {(m[~copy] > thr).float().mean().item():.3f}')
