"""CPSample's overhead and throughput against batch size and resolution (prints numbers; asserts nothing).

    python benchmarks/bench_scaling.py [--device cpu|cuda] [--compile] [--half] [--steps 20] [--repeats 7]
        [--threads 1] [--batches 1 8 64 256] [--sizes 16 32] [--backbone conv|mlp] [--mlp-width 256]
        [--classifier-channels 8 16] [--stem-stride 2]
        [--scale 1.0] [--default-malloc] [--out FILE.json]

At every resolution and batch size, `cpsample_nb.sampler.measure_overhead` times plain DDIM and CPSample at
alpha 0.5 (the rule fires at every step: a classifier backward at every step, the worst case) and at alpha 0.001
(it fires rarely: little more than the classifier's forward is paid), all from the same initial noise: one untimed
warm-up run of each method, then `--repeats` interleaved rounds in rotating order. Reported per point: images per
second (the reciprocal of the median wall time per image) of plain DDIM and of CPSample at alpha 0.5, and CPSample's
wall-time ratio to plain DDIM in the same round, median [min-max] over the rounds, with the share of (sample, step)
pairs where the rule fired at alpha 0.001. The JSON (`--out`) also holds every round's wall and CPU times.

Models: the project's default denoiser, `cpsample_nb.denoiser.make_unet(size, 1)` (diffusers `UNet2DModel`, widths
(32, 64, 64), 1.06M parameters), and the project's random-label classifier, `cpsample_nb.classifier.TimeClassifier`:
by default `GUIDANCE_NET`'s conv network, with widths `--classifier-channels` (default 8 16) and a stride-`--stem-stride`
input convolution (default 2; the project measured this size at 7-9% of a denoiser forward), or with `--backbone mlp`
the MLP family of width `--mlp-width`. Both have RANDOM (seeded) weights: the time of a
forward or backward pass does not depend on the weights. Where the rule fires does: at alpha 0.5 it fires at every
step whatever the weights; at alpha 0.001 a random classifier is rarely confident, which is the regime of a trained
classifier away from its training images (the fired share is printed).

`--device cuda` runs on the GPU (the default when one is present); `--compile` wraps both networks in
`torch.compile` (compiled during the warm-up, which is not timed); `--half` puts both in float16 (CUDA only: on the
CPU float16 kernels are slow fallbacks and their numbers would not describe half precision). `--threads` sets
torch's CPU threads (wall time on a shared machine swings with other processes' load; CPU time, in the JSON, is the
steadier measure there).
"""
import argparse
import json
import math
import time
from pathlib import Path

import torch
from diffusers import DDPMScheduler
from diffusers.utils import logging as diffusers_logging

from cpsample_nb.classifier import BACKBONES, GUIDANCE_NET, TimeClassifier
from cpsample_nb.denoiser import make_unet
from cpsample_nb.perf import machine_description, measure_overhead, steady_malloc

ALPHAS = (0.5, 0.001)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--device', choices=('cpu', 'cuda'), default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--compile', action='store_true', help='torch.compile the unet and the classifier')
    ap.add_argument('--half', action='store_true', help='float16 weights and noise (CUDA only)')
    ap.add_argument('--steps', type=int, default=20, help='DDIM steps per sampling call')
    ap.add_argument('--repeats', type=int, default=7, help='interleaved timed rounds per point')
    ap.add_argument('--threads', type=int, default=1, help='torch CPU threads')
    ap.add_argument('--batches', type=int, nargs='+', default=[1, 8, 64, 256], help='images per sampling call')
    ap.add_argument('--sizes', type=int, nargs='+', default=[16, 32], help='image height and width')
    ap.add_argument('--backbone', choices=BACKBONES, default=GUIDANCE_NET.get('backbone', 'conv'),
                    help="the classifier's family (default: GUIDANCE_NET's, what train-classifier builds)")
    ap.add_argument('--mlp-width', type=int, default=GUIDANCE_NET.get('mlp_width', 256), help="hidden width of an 'mlp' classifier")
    ap.add_argument('--classifier-channels', type=int, nargs='+', default=[8, 16], help="block widths of a 'conv' classifier")
    ap.add_argument('--stem-stride', type=int, default=2, help="stride of a 'conv' classifier's input convolution")
    ap.add_argument('--scale', type=float, default=1.0, help='CPSample guidance scale s')
    ap.add_argument('--default-malloc', action='store_true', help="keep glibc's adaptive allocator thresholds (no steady_malloc)")
    ap.add_argument('--out', type=Path, help='write the measurements as JSON here')
    args = ap.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available(): ap.error('--device cuda: torch sees no CUDA device here')
    if args.half and args.device != 'cuda':
        ap.error('--half needs --device cuda: on the CPU float16 runs on slow fallback kernels, so its timings would mislead')
    return args


def build_models(size: int, args, device: torch.device, dtype: torch.dtype):
    "The default denoiser and a TimeClassifier of the chosen widths, random seeded weights, frozen, on `device` in `dtype`."
    chans = tuple(args.classifier_channels)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        unet = make_unet(size, 1)
        torch.manual_seed(1)
        clf = (TimeClassifier(sample_size=size, in_channels=1, backbone='mlp', mlp_width=args.mlp_width) if args.backbone == 'mlp' else
               TimeClassifier(sample_size=size, in_channels=1, block_out_channels=chans, stem_stride=args.stem_stride,
                              norm_num_groups=math.gcd(8, *chans)))
    unet, clf = (m.to(device, dtype).eval().requires_grad_(False) for m in (unet, clf))
    params = tuple(sum(p.numel() for p in m.parameters()) for m in (unet, clf))
    if args.compile: unet, clf = torch.compile(unet), torch.compile(clf)
    return unet, clf, params


def describe_classifier(args) -> str:
    if args.backbone == 'mlp': return f"'mlp' backbone, width {args.mlp_width}"
    return f"'conv' backbone, widths {tuple(args.classifier_channels)}, stem stride {args.stem_stride}"


def fmt_spread(r: dict) -> str:
    return f"{r['median']:.3f} [{r['min']:.3f}-{r['max']:.3f}]"


def point(unet, clf, sched, size: int, batch: int, args, device, params) -> dict:
    "Measure one (resolution, batch size) point; the table row's numbers and the full measurement."
    t0 = time.perf_counter()
    res = measure_overhead(unet, sched, clf, batch_size=batch, num_inference_steps=args.steps, alphas=ALPHAS, scale=args.scale,
                           repeats=args.repeats, warmup=1, device=device)
    ims = {m: 1 / res.per_image(m)['median'] for m in res.wall}
    return {'batch': batch, 'res': size, 'unet_parameters': params[0], 'classifier_parameters': params[1],
            'ims_per_s_ddim': ims['ddim'], 'ims_per_s_cpsample_a0.5': ims['cpsample a=0.5'],
            **{f'overhead_a{a:g}': res.overhead(a) for a in ALPHAS},
            **{f'cpu_overhead_a{a:g}': res.overhead(a, 'cpu') for a in ALPHAS},
            **{f'fired_a{a:g}': res.fired[f'cpsample a={a:g}'] for a in ALPHAS},
            'seconds': time.perf_counter() - t0, 'measurement': res.to_dict()}


HEADER = ('| batch | res | ims/s DDIM | ims/s CPSample a=0.5 | overhead a=0.5 median [min-max] '
          '| overhead a=0.001 median [min-max] | fired a=0.001 |\n|---|---|---|---|---|---|---|')


def table_row(r: dict) -> str:
    return (f"| {r['batch']} | {r['res']} | {r['ims_per_s_ddim']:.1f} | {r['ims_per_s_cpsample_a0.5']:.1f} "
            f"| {fmt_spread(r['overhead_a0.5'])} | {fmt_spread(r['overhead_a0.001'])} | {r['fired_a0.001']:.1%} |")


def main(argv=None):
    args = parse_args(argv)
    malloc = 'default (--default-malloc)' if args.default_malloc else steady_malloc()  # as the cpsample command does
    torch.set_num_threads(args.threads)
    diffusers_logging.set_verbosity_error()  # silence the note that `.to(dtype)` is not `from_pretrained(torch_dtype=...)`
    device, dtype = torch.device(args.device), torch.float16 if args.half else torch.float32
    sched = DDPMScheduler(num_train_timesteps=1000)
    name = machine_description(device)
    print(f'{name}; {dtype}, compile={args.compile}; {args.steps} DDIM steps, {args.repeats} rounds, '
          f'scale {args.scale}; allocator thresholds {malloc}; classifier {describe_classifier(args)} (random weights)')
    models = {size: build_models(size, args, device, dtype) for size in args.sizes}
    for size, (_, _, params) in models.items():
        print(f'{size}x{size}: unet {params[0]:,} parameters, classifier {params[1]:,} parameters ({params[1] / params[0]:.1%})')
    print(HEADER, flush=True)
    rows = []
    for size, (unet, clf, params) in models.items():
        for batch in args.batches:
            rows.append(point(unet, clf, sched, size, batch, args, device, params))
            print(table_row(rows[-1]), flush=True)
    print('\n(overhead: CPSample wall time over plain DDIM in the same round; images per second: 1 / median wall time per image)')
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {'args': {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, 'torch': torch.__version__,
                'device_name': name, 'dtype': str(dtype), 'alphas': ALPHAS, 'malloc': malloc}
        args.out.write_text(json.dumps(meta | {'rows': rows}, indent=2))
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
