"""Table 3's analogue for the label-bit gate (issue 24 item 5): Algorithm 1's Z on the model trained on all of T for
plain DDIM's eps, CPSample's (alpha 0.01, s 10) and the label-bit gate's (three classifiers' confidences on x0_hat,
product > 0.15, the shipped push s 10, gate at t <= 450), S and 2,000 of T against 2,000 test images.
Run: .venv/bin/python reports/bench/mia/table3_gated.py OUT.json DIR+DIR+DIR"""
import json, platform, subprocess, sys, time
import torch
from tqdm.auto import tqdm
from cpsample_nb.attacks import mia_table, sampler_eps
from cpsample_nb.data import load_fashion_mnist
from cpsample_nb.demo_stages import MIA_TS
from cpsample_nb.guidance import CPGuidance, GatedGuidance, classifier_gate
from cpsample_nb.models import load_shipped_classifier, load_shipped_denoiser
from cpsample_nb.training import load_classifier

torch.set_num_threads(2)
t0 = time.perf_counter()
fine, pre = load_shipped_denoiser('fashion'), load_shipped_denoiser('fashion_pretrained')
clf = load_shipped_classifier('fashion')[0]
gate = classifier_gate([load_classifier(d, device='cpu')[0] for d in sys.argv[2].split('+')], 'x0_hat')
full, test = load_fashion_mnist('train', 16)[0], load_fashion_mnist('test', 16)[0]
g = torch.Generator().manual_seed(0)  # the draw stage_mia_pretrained makes
members, non = full[torch.randperm(len(full), generator=g)[:2000]], test[torch.randperm(len(test), generator=g)[:2000]]
u, sch = pre.unet, pre.scheduler
eps = {'ddim': sampler_eps(u, sch), 'cpsample a=0.01': sampler_eps(u, sch, CPGuidance(clf, 0.01, 10.0, 1e-3, check_first=False, keep=False)),
       'label bits > 0.15, t <= 450': sampler_eps(u, sch, GatedGuidance(clf, gate, 0.15, scale=10.0, keep=False, t_max=450))}
rows = []
for t in tqdm(MIA_TS, desc='MIA (pretrained)'):
    for who, mem in (('2000 of T', members), ('S (300)', fine.subset.images)):
        rows += [{'members': who, **r} for r in mia_table(eps, sch, mem, non, t=t, seed=0).rows()]
for r in rows: print(r['members'], r['name'], r['t'], f"Z {r['z']:.2f} p {r['p_value']:.3g}", flush=True)
commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
json.dump({'command': ' '.join(['python'] + sys.argv), 'commit': commit, 'machine': f"{platform.processor() or 'cpu'}, 2 threads, torch {torch.__version__}",
           'date': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'wall_s': time.perf_counter() - t0, 'rows': rows}, open(sys.argv[1], 'w'), indent=1, default=float)
