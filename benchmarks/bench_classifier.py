"""What the random-label classifier costs next to the denoiser, per network size (prints a table; asserts nothing).

    python benchmarks/bench_classifier.py [--batch 64] [--repeats 15] [--threads 1] [--runs NAME=DIR ...] [--json FILE]
        [--default-malloc]

Cost of one guidance call, as `cpsample_nb.sampler.cp_guidance` makes it when every sample fires: a classifier
forward on the batch plus the backward to its input, against one forward of the denoiser the sampler runs
(`cpsample_nb.denoiser.make_unet()`, the 1.06M-parameter UNet2DModel, 16x16 grayscale, random weights since
speed does not depend on them). After `--warmup` untimed rounds, every network is timed once per round in
rotating order, `--repeats` rounds; the cost share is the median over rounds of (classifier time / denoiser
time in the same round), with the min-max spread. FLOPs (torch's FlopCounterMode) are printed too: on a
shared machine they are the load-independent measure. Issue 13's goal: a share <= 8%. As the `cpsample` command does,
it fixes glibc's allocator thresholds first (`sampler.steady_malloc`); `--default-malloc` leaves them.

`--runs NAME=DIR` adds, for a `cpsample train-classifier` output folder DIR trained with the network NAME,
its per-band cross-entropy (report.json `bands`) and training wall time.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from cpsample_nb.classifier import TimeClassifier, count_parameters, latest_checkpoint
from cpsample_nb.denoiser import make_unet
from cpsample_nb.perf import machine_description, steady_malloc

CONFIGS = {  # name: TimeClassifier settings
    'default (16,32,64)': dict(block_out_channels=(16, 32, 64)),
    '(8,16,32)': dict(block_out_channels=(8, 16, 32), norm_num_groups=4),
    '(16,32)': dict(block_out_channels=(16, 32)),
    '(8,16)': dict(block_out_channels=(8, 16), norm_num_groups=4),
    '(16,32,64) stem 2': dict(block_out_channels=(16, 32, 64), stem_stride=2),
    '(32,64) stem 2': dict(block_out_channels=(32, 64), stem_stride=2),
    '(16,32) stem 2': dict(block_out_channels=(16, 32), stem_stride=2),
    '(8,16,32) stem 2': dict(block_out_channels=(8, 16, 32), norm_num_groups=4, stem_stride=2),
    '(8,16) stem 2': dict(block_out_channels=(8, 16), norm_num_groups=4, stem_stride=2),
    '(8,16) stem 2, no mid block': dict(block_out_channels=(8, 16), norm_num_groups=4, stem_stride=2, mid_block_resnets=0),
    '(16,32,64) stem 4': dict(block_out_channels=(16, 32, 64), stem_stride=4),
    'mlp 256x2': dict(backbone='mlp', mlp_width=256, mlp_layers=2),
    'mlp 512x2': dict(backbone='mlp', mlp_width=512, mlp_layers=2),
}


def guidance_call(model, x, t):
    "Forward plus the backward to the input, as cp_guidance does when every sample fires."
    xin = x.detach().requires_grad_()
    lp = model(xin, t).log_softmax(-1)[:, 0].sum()
    g, = torch.autograd.grad(lp, xin)
    return g


def flops(fn):
    with FlopCounterMode(display=False) as fc: fn()
    return fc.get_total_flops()


def guidance_flops(model, x, t):
    "FLOPs of `guidance_call` (FlopCounterMode cannot watch autograd.grad: the same input-only backward via .backward())."
    for q in model.parameters(): q.requires_grad_(False)
    xin = x.detach().requires_grad_()
    try: return flops(lambda: model(xin, t).log_softmax(-1)[:, 0].sum().backward())
    finally:
        for q in model.parameters(): q.requires_grad_(True)


def timed(fn):
    t0 = time.perf_counter(); fn(); return time.perf_counter() - t0


def run_summary(folder) -> dict:
    "Training wall time, steps and per-band CE of a train-classifier folder: report.json, else its newest checkpoint's history."
    folder = Path(folder)
    if (folder / 'report.json').exists():
        rep = json.loads((folder / 'report.json').read_text())
        return dict(train_seconds=rep['seconds'], train_steps=rep['step'], bands={k: v['ce'] for k, v in rep['bands'].items()})
    last = json.loads((latest_checkpoint(folder) / 'train' / 'state.json').read_text())['history'][-1]
    return dict(train_seconds=last['seconds'], train_steps=last['step'], bands={f"{lo}-{hi}": c for (lo, hi), c in zip(last['bands'], last['ce'])})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--batch', type=int, default=64)
    p.add_argument('--size', type=int, default=16)
    p.add_argument('--repeats', type=int, default=15)
    p.add_argument('--warmup', type=int, default=3)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--configs', nargs='*', default=None, help='names from CONFIGS (default: all)')
    p.add_argument('--runs', nargs='*', default=[], help='NAME=DIR: add per-band CE and training time of a train-classifier run')
    p.add_argument('--json', default=None, help='also write the table here')
    p.add_argument('--default-malloc', action='store_true', help="keep glibc's adaptive allocator thresholds (no steady_malloc)")
    a = p.parse_args(argv)
    malloc = 'default (--default-malloc)' if a.default_malloc else steady_malloc()
    torch.set_num_threads(a.threads)
    machine = machine_description()
    print('machine:', machine)
    names = a.configs or list(CONFIGS)
    torch.manual_seed(0)
    unet = make_unet(a.size).eval()
    models = {n: TimeClassifier(sample_size=a.size, **CONFIGS[n]).eval() for n in names}
    x, t = torch.randn(a.batch, 1, a.size, a.size), torch.full((a.batch,), 500)
    calls = {'denoiser': lambda: unet(x, t).sample} | {n: (lambda m=m: guidance_call(m, x, t)) for n, m in models.items()}
    with torch.no_grad(): den_flops = flops(calls['denoiser'])
    order, times = list(calls), {k: [] for k in calls}
    for r in range(a.warmup + a.repeats):
        rot = order[r % len(order):] + order[:r % len(order)]
        for k in rot:
            if k == 'denoiser':
                with torch.no_grad(): dt = timed(calls[k])
            else: dt = timed(calls[k])
            if r >= a.warmup: times[k].append(dt)
    runs = dict(s.split('=', 1) for s in a.runs)
    rows = []
    for n in names:
        share = [c / d for c, d in zip(times[n], times['denoiser'])]
        row = {'network': n, 'parameters': count_parameters(models[n]), 'flop_share': guidance_flops(models[n], x, t) / den_flops,
               'cost_share_median': statistics.median(share), 'cost_share_min': min(share), 'cost_share_max': max(share),
               'ms_per_call': 1e3 * statistics.median(times[n])}
        if n in runs: row.update(run_summary(runs[n]))
        rows.append(row)
    print(f"denoiser forward, batch {a.batch}, {a.size}x{a.size}: {1e3 * statistics.median(times['denoiser']):.1f} ms "
          f"(median of {a.repeats}), {den_flops / 1e9:.3f} GFLOP, {count_parameters(unet):,} parameters; {a.threads} thread(s); "
          f"allocator thresholds {malloc}")
    print(f"{'network':<20} {'params':>8} {'FLOP share':>10} {'time share (median [min-max])':>30} {'ms':>7}  per-band CE / train s")
    for r in rows:
        extra = (' '.join(f"{k}:{v:.3f}" for k, v in r['bands'].items()) + f" / {r['train_seconds']:.0f} s ({r['train_steps']} steps)") if 'bands' in r else ''
        print(f"{r['network']:<20} {r['parameters']:>8,} {r['flop_share']:>10.1%} {r['cost_share_median']:>12.1%} "
              f"[{r['cost_share_min']:.1%}-{r['cost_share_max']:.1%}]{'':>4} {r['ms_per_call']:>7.1f}  {extra}")
    if a.json: Path(a.json).write_text(json.dumps({'machine': machine, 'denoiser_ms': 1e3 * statistics.median(times['denoiser']), 'malloc': malloc, 'rows': rows}, indent=1))
    return rows


if __name__ == '__main__':
    main()
