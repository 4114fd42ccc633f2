"""Where do the copies a sampler removes go? (issue 24) Reads a `bench.py frontier` record that keeps each sample's nearest
pixel cosine to S and its index (`nn_cosine`, `nn_index`: commit 'frontier keeps per-sample nearest cosines' on).

1. Copies at several cosine lines, not only the held-out one (Wilson 95%): a sampler that moves near-copies just below
   the line lowers the copy rate at the line and not at 0.98.
2. Paired with plain DDIM (the same noise, rows without rejection only): for each of plain DDIM's copies, what the other
   sampler made from the same noise: still a copy; 'nudged' (below the line, still at cosine >= NUDGE to the *same*
   training image); or 'elsewhere' (everything else).
3. A figure: the nearest-cosine histograms near the line, and the paired cosines (plain DDIM's against each sampler's).

Run: .venv/bin/python reports/bench/copy_lines.py RECORD.json OUT.json OUT.png [--nudge 0.98]"""
import argparse, json, platform, subprocess, time
from pathlib import Path
import numpy as np
import matplotlib
matplotlib.use('Agg')
import matplotlib.pyplot as plt
from cpsample_nb.compare import paired_copies
from cpsample_nb.evaluation import wilson_interval

p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
p.add_argument('record', type=Path); p.add_argument('out', type=Path); p.add_argument('png', type=Path)
p.add_argument('--nudge', type=float, default=0.98, help="'nudged': below the copy line but at least this cosine to the same image (default 0.98)")
a = p.parse_args()
rec = json.loads(a.record.read_text())
if rec.get('subcommand') != 'frontier': p.error(f"{a.record} is not a frontier record")
res = rec['results']; thr = res['threshold']; rows = res['rows']
if not all('nn_cosine' in r for r in rows): p.error(f"{a.record} keeps no per-sample cosines (record from before bench.py kept them): run frontier again")
if not 0 < a.nudge < thr: p.error(f"--nudge must be in (0, copy line {thr:.4f}), got {a.nudge}")
base = next((r for r in rows if r['sampler'] == 'plain DDIM'), None)
lines = sorted({0.95, 0.97, 0.98, 0.99, thr, 0.995, 0.998})  # thr exactly: the copy line's column is the frontier's copy rate
out = {'record': str(a.record), 'record_command': rec['command'], 'record_commit': rec['commit'], 'copy_line': thr, 'nudge': a.nudge,
       'command': ' '.join(['python', 'reports/bench/copy_lines.py', str(a.record), str(a.out), str(a.png)] + ([f'--nudge {a.nudge}'] if a.nudge != 0.98 else [])),
       'commit': subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True).stdout.strip(),
       'machine': platform.processor() or 'cpu', 'date': time.strftime('%Y-%m-%dT%H:%M:%S%z'), 'rows': []}
print(f"{a.record.name}: copy line {thr:.4f}; share of samples above each line [Wilson 95%]")
print('sampler'.ljust(60) + ''.join(f'{l:>20.4f}' for l in lines))
for r in rows:
    c = np.asarray(r['nn_cosine']); n = len(c)
    at = {f'{l:.4f}': (int((c > l).sum()) / n, list(wilson_interval(int((c > l).sum()), n))) for l in lines}
    row = {'sampler': r['sampler'], 'n': n, 'above': at}
    print(r['sampler'][:59].ljust(60) + ''.join(f"{100 * v:6.2f}% [{100 * ci[0]:.1f}-{100 * ci[1]:.1f}]".rjust(20) for v, ci in at.values()))
    if base is not None and r is not base and 'rejection' not in r['sampler'] and len(c) == len(base['nn_cosine']):
        b, bi, i = np.asarray(base['nn_cosine']), np.asarray(base['nn_index']), np.asarray(r['nn_index'])
        pc = paired_copies((b, bi), (c, i), thr, a.nudge)  # the package's count (compare.paired_copies)
        removed = (b > thr) & (c <= thr)
        row['paired'] = {'ddim_copies': pc.baseline_copies, 'still_copies': pc.still, 'nudged': pc.nudged, 'elsewhere': pc.elsewhere,
                         'removed_cosine_median': float(np.median(c[removed])) if removed.any() else None, 'new_copies': pc.new}
    out['rows'].append(row)
print("\npaired with plain DDIM (same noise): of its copies, the other sampler's image from the same noise is ...")
for row in out['rows']:
    q = row.get('paired')
    if q: print(f"  {row['sampler'][:70]:70s} still a copy {q['still_copies']}, nudged (>= {a.nudge} to the same image) {q['nudged']}, "
                f"elsewhere {q['elsewhere']} of {q['ddim_copies']}; removed ones' median cosine {q['removed_cosine_median']}; new copies {q['new_copies']}")
a.out.write_text(json.dumps(out, indent=1))

paired = [r for r in rows if base is not None and r is not base and 'rejection' not in r['sampler'] and len(r['nn_cosine']) == len(base['nn_cosine'])]
fig, ax = plt.subplots(1, 1 + len(paired), figsize=(5 * (1 + len(paired)), 4.2), squeeze=False); ax = ax[0]
bins = np.linspace(0.95, 1.0, 51)
def short(name: str) -> str:
    "A legend label: the label-bit gate's long name (its classifier folders) shortened."
    if 'x0_hat gate' not in name: return name
    s = 'label-bit gate' + name[name.index(' >'):].split(', CPSample push')[0] + name.split(', CPSample push')[1].split(',')[0].replace(' s=', ', s ')
    return s + (', latched' if 'latched' in name else '') + (' + rejection' if 'rejection' in name else '')
for r in rows:
    c = np.asarray(r['nn_cosine']); ax[0].hist(c[c >= 0.95], bins=bins, histtype='step', lw=1.5, label=short(r['sampler']))
ax[0].axvline(thr, color='k', ls='--', lw=1); ax[0].set_xlabel('nearest pixel cosine to S (samples below 0.95 not drawn)'); ax[0].set_ylabel('samples')
ax[0].set_title(f'near the copy line ({thr:.4f}, dashed)', fontsize=9); ax[0].legend(fontsize=6, loc='upper left')
for axi, r in zip(ax[1:], paired):
    b, c = np.asarray(base['nn_cosine']), np.asarray(r['nn_cosine']); same = np.asarray(r['nn_index']) == np.asarray(base['nn_index'])
    axi.scatter(b[same], c[same], s=3, alpha=0.4, label='same nearest image'); axi.scatter(b[~same], c[~same], s=3, alpha=0.4, label='another image')
    axi.axvline(thr, color='k', ls='--', lw=1); axi.axhline(thr, color='k', ls='--', lw=1); axi.plot([0.9, 1], [0.9, 1], color='grey', lw=0.8)
    axi.set_xlim(0.9, 1.0); axi.set_ylim(0.9, 1.0); axi.set_xlabel('plain DDIM: nearest cosine'); axi.set_ylabel('same noise, this sampler')
    axi.set_title(f"{short(r['sampler'])}: the same noise's images", fontsize=8); axi.legend(fontsize=7, markerscale=3)
fig.suptitle(f"{a.record.name}: n = {len(base['nn_cosine']) if base else rows[0]['n']} per sampler", fontsize=9)
fig.tight_layout(); fig.savefig(a.png, dpi=110)
print(f"wrote {a.out} and {a.png}")
