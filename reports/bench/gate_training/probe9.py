# exploration (issue 24, session 9): score gates on the cached 1,000 evaluation trajectories (runs/gate/eval.pt, made by
# cache.py eval: bench.py gate's seeds, x_t and x0_hat at every step). A gate is one classifier or several (label bits:
# classifiers of independent random labels) joined by 'min' (fires when every one is confident) or 'prod' (product of
# confidences). Prints and appends to runs/gate9/probe.jsonl: AUC for 'ends as a copy' at t = 420 ... 0, the firing shares
# at alpha 0.01 (some step), and the operating point where the gate fires on 5% of novel trajectories.
# run from the repository root: python probe9.py NAME=DIR[+DIR...]:READ[:min|prod] ...   (READ: xt or x0)
import torch, sys, json
torch.set_num_threads(1)
from sklearn.metrics import roc_auc_score
from cpsample_nb.training import load_classifier
from cpsample_nb.models import load_shipped_classifier
c = torch.load('runs/gate/eval.pt'); copy = (c['cos'] > c['thr']).numpy(); ts = c['timesteps'].tolist()
def conf(clf, x, t):
    with torch.no_grad():
        return torch.cat([clf(x[i:i + 500], torch.full((len(x[i:i + 500]),), int(t))).float().softmax(1).amax(1) for i in range(0, len(x), 500)])
def scores(clf, read):
    S = [conf(clf, c['xt'][:, k], t) if read == 'xt' else conf(clf, c['x0'][:, k].clamp(-1, 1), 0) for k, t in enumerate(ts)]
    return torch.stack(S, 1), conf(clf, c['final'], 0)
for spec in sys.argv[1:]:
    name, _, rest = spec.partition('=')
    parts = rest.split(':'); dirs, read, how = parts[0].split('+'), parts[1], (parts[2] if len(parts) > 2 else 'min')
    got = [scores((load_shipped_classifier('fashion', 'cpu')[0] if d == 'shipped' else load_classifier(d, device='cpu')[0]).eval(), read) for d in dirs]
    join = (lambda v: torch.stack(v).amin(0)) if how == 'min' else (lambda v: torch.stack(v).prod(0))
    S, fin = join([g[0] for g in got]), join([g[1] for g in got])
    # with several bits a score is in [0.5^k, 1]; the rule fires at alpha when the joined confidence exceeds (1 - alpha)^(k if prod else 1)
    k = len(dirs) if how == 'prod' else 1
    fired = (S > (1 - 0.01) ** k).any(1).numpy()
    m = S.amax(1); thr = torch.quantile(m[~torch.as_tensor(copy)].double(), 0.95).item()
    row = {'name': name, 'dirs': dirs, 'read': read, 'join': how, **{f'auc{t}': round(roc_auc_score(copy, S[:, j].numpy()), 3) for j, t in enumerate(ts) if t in (420, 340, 260, 180, 100, 20, 0)},
           'auc_final': round(roc_auc_score(copy, fin.numpy()), 3), 'fire_copy': round(fired[copy].mean(), 3), 'fire_novel': round(fired[~copy].mean(), 3),
           'op5_copies': round((m[torch.as_tensor(copy)] > thr).float().mean().item(), 3), 'op5_score': thr}
    print(json.dumps(row), flush=True)
    with open('runs/gate9/probe.jsonl', 'a') as f: f.write(json.dumps(row) + '\n')
