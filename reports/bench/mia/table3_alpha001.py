"""Table 3's analogue at the demo's alpha 0.01 (issue 24 item 5): Algorithm 1's Z on the model trained on all of T,
for plain DDIM's eps and CPSample's (alpha 0.01, s 10): the eps that `cpsample sample --reject` samples with.
Run: .venv/bin/python reports/bench/mia/table3_alpha001.py OUT.json"""
import json, platform, subprocess, sys, time
import torch
from cpsample_nb.data import load_fashion_mnist
from cpsample_nb.demo_stages import stage_mia_pretrained
from cpsample_nb.models import load_shipped_classifier, load_shipped_denoiser

torch.set_num_threads(2)
t0 = time.perf_counter()
fine, pre = load_shipped_denoiser('fashion'), load_shipped_denoiser('fashion_pretrained')
clf = load_shipped_classifier('fashion')[0]
sets = {'all': load_fashion_mnist('train', 16)[0], 'heldout': load_fashion_mnist('test', 16)[0], 'protected': fine.subset}
results = {}
rows = stage_mia_pretrained(results, pre, clf, sets, alpha=0.01, scale=10.0, alphas=(0.01,))
for r in rows: print(r['members'], r['name'], r['t'], f"Z {r['z']:.2f} p {r['p_value']:.3g}", flush=True)
commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip()
json.dump({'command': ' '.join(['python'] + sys.argv), 'commit': commit, 'machine': f"{platform.processor() or 'cpu'}, 2 threads, torch {torch.__version__}",
           'date': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'wall_s': time.perf_counter() - t0, 'rows': rows, 'results': results},
          open(sys.argv[1], 'w'), indent=1, default=float)
