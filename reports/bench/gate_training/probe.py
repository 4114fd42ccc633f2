# score classifiers on the cached eval trajectories: per-step AUC for 'ends as copy', firing shares at alpha
import torch, sys, json
torch.set_num_threads(1)
from sklearn.metrics import roc_auc_score
from cpsample_nb.training import load_classifier  # (cpsample_nb.classifier before 86d3a81, as run)
from cpsample_nb.models import load_shipped_classifier
c = torch.load('runs/gate/eval.pt')
copy = (c['cos'] > c['thr']).numpy(); ts = c['timesteps'].tolist()
def conf(clf, x, t):
    with torch.no_grad():
        out = []
        for i in range(0, len(x), 500): out.append(clf(x[i:i+500], torch.full((len(x[i:i+500]),), int(t))).float().softmax(1).amax(1))
        return torch.cat(out)
def probe(name, clf, read, alpha=0.01):
    S = []
    for k, t in enumerate(ts):
        if read == 'xt': x, tt = c['xt'][:, k], t
        elif read == 'x0': x, tt = c['x0'][:, k].clamp(-1, 1), 0
        elif read == 'x0t': x, tt = c['x0'][:, k].clamp(-1, 1), t
        S.append(conf(clf, x, tt))
    S = torch.stack(S, 1)
    fin = conf(clf, c['final'], 0)
    auc = [roc_auc_score(copy, S[:, k].numpy()) for k in range(len(ts))]
    fired = ((1 - S) < alpha).any(1).numpy()
    row = {'name': name, 'read': read, **{f'auc{t}': round(auc[k], 3) for k, t in enumerate(ts) if t in (420, 340, 260, 180, 100, 20, 0)},
           'auc_final': round(roc_auc_score(copy, fin.numpy()), 3), 'fire_copy': round(fired[copy].mean(), 3), 'fire_novel': round(fired[~copy].mean(), 3),
           'fire_final_novel': round(((1 - fin) < alpha).numpy()[~copy].mean(), 3), 'fire_final_copy': round(((1 - fin) < alpha).numpy()[copy].mean(), 3)}
    print(json.dumps(row), flush=True)
    with open('runs/gate/probe.jsonl', 'a') as f: f.write(json.dumps(row) + '\n')
for spec in sys.argv[1:]:
    path, read = spec.split(':')
    clf = load_shipped_classifier('fashion', 'cpu')[0] if path == 'shipped' else load_classifier(path, device='cpu')[0]
    clf.eval()
    probe(path, clf, read)
