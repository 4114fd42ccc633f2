"""CPSample's overhead over plain DDIM on the models that ship with the package (prints a table; asserts nothing).

    python benchmarks/bench_shipped_overhead.py [--pairs faces fashion] [--batch 64] [--steps 50] [--repeats 9]
        [--alphas 0.5 0.01 0.001] [--threads 2] [--device cpu] [--classifier NAME=DIR ...] [--default-malloc]
        [--out FILE.json]

For each shipped denoiser/classifier pair, `cpsample_nb.sampler.measure_overhead` times plain DDIM and CPSample at
each alpha from the same initial noise (one untimed warm-up run of each method, then `--repeats` interleaved rounds
in rotating order) at the guidance scale the demo uses for that data (`experiments.DATA_SETTINGS`). Reported per
method: the wall-time ratio to plain DDIM within each round, median [min-max] over the rounds, the CPU-time ratio,
and the share of (sample, step) pairs where the rule fired. Issue 13's goals: <= 1.10 at alpha 0.5 and <= 1.03 at
alpha 0.001. `--classifier fashion=DIR` puts a `cpsample train-classifier` folder's classifier in place of a shipped
one (e.g. one with another network, trained on the same protected subset). On a shared machine wall time swings with other processes' load: run it on a quiet one. As the `cpsample`
command does, it fixes glibc's allocator thresholds first (`sampler.steady_malloc`); `--default-malloc` leaves them.
"""
import argparse
import json
from pathlib import Path

import torch

from cpsample_nb.denoiser import load_shipped_denoiser
from cpsample_nb.experiments import DATA_SETTINGS, DEMO_SETTINGS
from cpsample_nb.classifier import count_parameters
from cpsample_nb.perf import machine_description, measure_overhead, steady_malloc

from pair_classifier import add_classifier_option, classifier_swaps, pair_classifier


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--pairs', nargs='+', default=['faces', 'fashion'], help='shipped pairs (denoiser and classifier of one name)')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--steps', type=int, default=50)
    ap.add_argument('--repeats', type=int, default=9)
    ap.add_argument('--alphas', type=float, nargs='+', default=[0.5, 0.01, 0.001])
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--device', default='cpu')
    add_classifier_option(ap)
    ap.add_argument('--default-malloc', action='store_true', help="keep glibc's adaptive allocator thresholds (no steady_malloc)")
    ap.add_argument('--out', type=Path, default=None)
    a = ap.parse_args(argv)
    swap = classifier_swaps(ap, a)
    malloc = 'default (--default-malloc)' if a.default_malloc else steady_malloc()
    print(f'allocator thresholds: {malloc}')
    torch.set_num_threads(a.threads)
    machine = machine_description(a.device)
    print(f'machine: {machine}')
    out = {'settings': vars(a) | {'out': str(a.out), 'malloc': malloc, 'machine': machine}, 'pairs': {}}
    for name in a.pairs:
        den = load_shipped_denoiser(name, a.device)
        clf = pair_classifier(name, swap, a.device)
        scale = (DEMO_SETTINGS | DATA_SETTINGS.get(name, {}))['scale']
        r = measure_overhead(den.unet, den.scheduler, clf, batch_size=a.batch, num_inference_steps=a.steps, alphas=tuple(a.alphas),
                             scale=scale, repeats=a.repeats, device=a.device)
        print(f"\n{name}: classifier {count_parameters(clf):,} parameters, s {scale:g}, batch {a.batch}, {a.steps} steps, "
              f"{a.repeats} rounds, {a.threads} threads, {a.device}\n{r}", flush=True)
        out['pairs'][name] = {'scale': scale, 'classifier': swap.get(name, 'shipped'), 'classifier_parameters': count_parameters(clf)} | r.to_dict()
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(out, indent=1))
        print(f"wrote {a.out}")


if __name__ == '__main__':
    main()
