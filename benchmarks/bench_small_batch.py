"""Where PyTorch's native CPU convolutions beat oneDNN for the firing samples' guidance pass (prints a table; asserts nothing).

    python benchmarks/bench_small_batch.py [--pairs fashion faces] [--n 4 8 12 16 24 32 64] [--rounds 40] [--threads 2]
        [--json FILE]

When few samples fire, `cpsample_nb.sampler.cp_guidance` runs the classifier forward and the backward to x_t over
those samples alone, and up to `sampler.SMALL_CPU_BATCH` of them it turns oneDNN off for that pass
(`small_batch_convs`). This times that pass (forward with a graph, log(tau + p), gradient to the input) on a shipped
classifier for each number of firing samples, with oneDNN on and off in alternating order, after 8 untimed calls;
the table gives medians over `--rounds` calls. It fixes glibc's allocator thresholds first, as the `cpsample` command
does (`sampler.steady_malloc`).
"""
import argparse
import json
import statistics
import time

import torch

from cpsample_nb.experiments import load_shipped_classifier
from cpsample_nb.guidance import SMALL_CPU_BATCH, no_weight_grads
from cpsample_nb.perf import machine_description, steady_malloc


def guidance_pass(clf, x, t):
    with torch.enable_grad():
        xs = x.clone().requires_grad_(True)
        lp = torch.log(1e-3 + clf(xs, t).softmax(-1)[:, 1]).sum()
        return torch.autograd.grad(lp, xs)[0]


def measure(clf, n: int, rounds: int, warmup: int = 8) -> dict:
    x, t = torch.randn(n, clf.config.in_channels, 16, 16), torch.full((n,), 300)
    times = {True: [], False: []}
    for i in range(rounds + warmup):
        for onednn in ((True, False) if i % 2 else (False, True)):
            with torch.backends.mkldnn.flags(enabled=onednn):
                a = time.perf_counter(); guidance_pass(clf, x, t); b = time.perf_counter()
            if i >= warmup: times[onednn].append(b - a)
    return {'n': n, 'onednn_ms': statistics.median(times[True]) * 1e3, 'native_ms': statistics.median(times[False]) * 1e3}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--pairs', nargs='+', default=['fashion', 'faces'], help='shipped classifiers')
    p.add_argument('--n', nargs='+', type=int, default=[4, 8, 12, 16, 24, 32, 64], help='numbers of firing samples')
    p.add_argument('--rounds', type=int, default=40)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--json', default=None, help='also write the rows here')
    a = p.parse_args(argv)
    print('allocator thresholds:', steady_malloc())
    torch.set_num_threads(a.threads)
    machine = machine_description()
    print('machine:', machine)
    rows = []
    print(f'SMALL_CPU_BATCH = {SMALL_CPU_BATCH}; {a.threads} threads\n')
    print('| classifier | firing samples | oneDNN, ms | native, ms | faster |')
    print('|---|---|---|---|---|')
    for name in a.pairs:
        clf = load_shipped_classifier(name)[0].eval()
        with no_weight_grads(clf):
            for n in a.n:
                r = {'classifier': name, **measure(clf, n, a.rounds)}
                rows.append(r)
                print(f"| {name} | {n} | {r['onednn_ms']:.2f} | {r['native_ms']:.2f} | "
                      f"{'native' if r['native_ms'] < r['onednn_ms'] else 'oneDNN'} |", flush=True)
    if a.json:
        with open(a.json, 'w') as f: json.dump({'threads': a.threads, 'machine': machine, 'rows': rows}, f, indent=1)


if __name__ == '__main__':
    main()
