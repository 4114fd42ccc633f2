"""What CPSample's per-step check costs inside sampling, on the shipped models (prints a table; asserts nothing).

    python benchmarks/bench_check.py [--pairs fashion faces] [--batch 64 256] [--rounds 40] [--threads 2]
        [--classifier NAME=DIR ...] [--json FILE] [--default-malloc]

At every DDIM step `cpsample_nb.sampler.cp_guidance` runs the classifier on the whole batch, without a graph, to
see which samples are near a training image (p < alpha). This times that call where the sampler makes it: right
after a denoiser forward on the same batch (a call on its own is faster, its caches still warm). Each round runs
the denoiser then the check, once through `TimeClassifier.lean_forward` (what `forward` does under
`torch.no_grad()`) and once through the diffusers blocks' forward (grad mode, nothing requiring grad: no graph),
in alternating order (the 'mlp' backbone has one path: both columns then time the same call); the table gives
medians after 5 rounds of warm-up, and the check's share of a denoiser step. As the `cpsample` command does, it fixes glibc's allocator thresholds first (`sampler.steady_malloc`);
`--default-malloc` leaves them.
"""
import argparse
import json
import statistics
import time

import torch

from cpsample_nb.denoiser import load_shipped_denoiser
from cpsample_nb.perf import machine_description, steady_malloc
from cpsample_nb.guidance import no_weight_grads

from pair_classifier import add_classifier_option, classifier_swaps, pair_classifier


def measure(unet, clf, batch: int, rounds: int, warmup: int = 5) -> dict:
    x = torch.randn(batch, unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
    t = torch.full((batch,), 500, dtype=torch.long)
    times = {'unet': [], 'lean': [], 'diffusers': []}
    with no_weight_grads(clf):
        for i in range(rounds + warmup):
            for path in (('lean', 'diffusers') if i % 2 else ('diffusers', 'lean')):
                with torch.no_grad():
                    a = time.perf_counter(); unet(x, t); b = time.perf_counter()
                with torch.set_grad_enabled(path == 'diffusers'): clf(x, t)
                c = time.perf_counter()
                if i >= warmup: times['unet'].append(b - a); times[path].append(c - b)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    return {'batch': batch, 'rounds': rounds, 'unet_ms': med['unet'], 'check_lean_ms': med['lean'],
            'check_diffusers_ms': med['diffusers'], 'share_lean': med['lean'] / med['unet'],
            'share_diffusers': med['diffusers'] / med['unet']}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--pairs', nargs='+', default=['fashion', 'faces'], help='shipped pairs (denoiser and classifier of one name)')
    p.add_argument('--batch', nargs='+', type=int, default=[64, 256])
    p.add_argument('--rounds', type=int, default=40)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--json', default=None, help='also write the rows here')
    add_classifier_option(p)
    p.add_argument('--default-malloc', action='store_true', help="keep glibc's adaptive allocator thresholds (no steady_malloc)")
    a = p.parse_args(argv)
    swap = classifier_swaps(p, a)
    if not a.default_malloc: print('allocator thresholds:', steady_malloc())
    torch.set_num_threads(a.threads)
    machine = machine_description()
    print('machine:', machine)
    rows = []
    print('| pair | batch | denoiser step, ms | check, lean, ms | check, diffusers blocks, ms | share, lean | share, diffusers |')
    print('|---|---|---|---|---|---|---|')
    for name in a.pairs:
        unet = load_shipped_denoiser(name).unet.eval()
        clf = pair_classifier(name, swap).eval()
        for b in a.batch:
            r = {'pair': name, 'classifier': swap.get(name, 'shipped'), **measure(unet, clf, b, a.rounds)}
            rows.append(r)
            print(f"| {name} | {b} | {r['unet_ms']:.1f} | {r['check_lean_ms']:.2f} | {r['check_diffusers_ms']:.2f} | "
                  f"{100 * r['share_lean']:.1f}% | {100 * r['share_diffusers']:.1f}% |", flush=True)
    if a.json:
        with open(a.json, 'w') as f: json.dump({'threads': a.threads, 'machine': machine, 'rows': rows}, f, indent=1)


if __name__ == '__main__':
    main()
