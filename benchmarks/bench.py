"""The project's benchmarks, one entry point (prints tables; asserts nothing; writes JSON under reports/bench/).

    python benchmarks/bench.py SUBCOMMAND [options]        # python benchmarks/bench.py SUBCOMMAND --help

Sub-commands (the script each replaced):

    overhead     CPSample's overhead over plain DDIM on the shipped pairs (bench_shipped_overhead.py)
    check        the per-step check's cost inside sampling, on the shipped pairs (bench_check.py)
    classifier   the random-label classifier's cost next to the denoiser, per network size (bench_classifier.py)
    nnindex      `NNIndex` (faiss) against a chunked torch matrix product (bench_nnindex.py)
    sampler      CPSample over plain DDIM with a small calibrated classifier, random weights (bench_sampler.py)
    scaling      overhead and throughput against batch size and resolution (bench_scaling.py)
    small-batch  PyTorch's native CPU convolutions against oneDNN for the firing samples' pass (bench_small_batch.py)
    sd-study     the case study of 19_text2image on the shipped mini text-to-image model (sd_study.py)
    gate         how well the classifier's confidence predicts that a trajectory ends as a copy (issue 24)
    frontier     copies, sample-only membership attack, quality and time of each sampler from the same noise (issue 24)
    attacks      the attacker x sampler table: Algorithm 1, SecMI, PIA, sample-only, on both Fashion-MNIST models (issue 25)
    side         SIDE at full size: seeds, AMS/UMS per band with intervals, Fisher tests (issue 25)
    protect      the wall time of `cpsample protect --quick` as a user types it (issue 26)

Options every sub-command shares (one implementation, below): `--threads` (torch's CPU threads), `--default-malloc`
(as the `cpsample` command does, every sub-command fixes glibc's allocator thresholds first with
`cpsample_nb.perf.steady_malloc`; this leaves glibc's adaptive ones) and `--out FILE.json` (default
`reports/bench/SUBCOMMAND.json`; `--json` is the same option, the name some old scripts used). Where a sub-command
has them: `--repeats` (timed rounds; `--rounds` is the same option), `--device`, `--classifier NAME=DIR` (a
`cpsample train-classifier` folder's classifier in place of pair NAME's shipped one) and `--backbone`.

The JSON holds the command line, the git commit at its start (`git rev-parse --short HEAD`, or 'unknown'), the machine
(`cpsample_nb.perf.machine_description`), the date, the allocator, the settings (every option) and the results.
Timed rounds run the measured things in rotating order (`cpsample_nb.perf.rotations`; `measure_overhead` where
plain DDIM and CPSample are compared on the same noise). On a shared machine wall time swings with other
processes' load: measure on a quiet one.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import re
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository
REPORTS = ROOT / 'reports' / 'bench'  # where the JSON goes unless --out says otherwise


# ---------------------------------------------------------------------------------------------------------------------
# The shared parts: options, setup, timing, the record
# ---------------------------------------------------------------------------------------------------------------------

def int_at_least(lo: int):
    "argparse type: an integer >= `lo` (argparse names the option in the error)."
    what = 'a positive integer' if lo == 1 else f'an integer >= {lo}'
    def parse(s: str) -> int:
        try: v = int(s)
        except ValueError: v = lo - 1
        if v < lo: raise argparse.ArgumentTypeError(f"must be {what}, got {s!r}")
        return v
    return parse


positive_int, nonneg_int = int_at_least(1), int_at_least(0)


def device_name(s: str) -> str:
    "argparse type: 'cpu', 'cuda' or 'cuda:N'."
    if not re.fullmatch(r'cpu|cuda(:\d+)?', s): raise argparse.ArgumentTypeError(f"must be 'cpu', 'cuda' or 'cuda:N', got {s!r}")
    return s


def add_common(p: argparse.ArgumentParser, *, threads: int | None, repeats: int | None = None, repeats_help: str = 'timed rounds',
               device: str | None = None, classifier: bool = False, backbone: bool = False) -> None:
    """The options the sub-commands share, with this sub-command's defaults: --threads, --default-malloc, --out always;
    --repeats when `repeats` is given, --device when `device` is ('auto': cuda when torch sees one), --classifier, --backbone."""
    g = p.add_argument_group('common options')
    g.add_argument('--threads', type=positive_int, default=threads,
                   help=f"torch's CPU threads (default: {threads if threads else 'leave torch and faiss at their own'})")
    g.add_argument('--default-malloc', action='store_true', help="keep glibc's adaptive allocator thresholds (no steady_malloc)")
    g.add_argument('--out', '--json', type=Path, default=None, metavar='FILE.json',
                   help=f'write the record here (default: reports/bench/{p.prog.split()[-1]}.json)')
    if repeats is not None: g.add_argument('--repeats', '--rounds', type=positive_int, default=repeats, help=f'{repeats_help} (default: %(default)s)')
    if device is not None:
        g.add_argument('--device', type=device_name, default=None if device == 'auto' else device,
                       help="'cpu', 'cuda' or 'cuda:N' (default: " + ("cuda when torch sees one, else cpu)" if device == 'auto' else f"{device})"))
    if classifier:
        g.add_argument('--classifier', nargs='+', default=[], metavar='NAME=DIR',
                       help="use this `cpsample train-classifier` folder's classifier instead of the shipped one for pair NAME")
    if backbone:
        g.add_argument('--backbone', choices=('conv', 'mlp'), default=None,
                       help="the classifier's family (default: GUIDANCE_NET's, what train-classifier builds)")


def check_common(p: argparse.ArgumentParser, a: argparse.Namespace) -> None:
    "Checks of the shared options that need torch: the device is there; the backbone default."
    import torch
    if hasattr(a, 'device'):
        if a.device is None: a.device = 'cuda' if torch.cuda.is_available() else 'cpu'
        if a.device.startswith('cuda') and not torch.cuda.is_available(): p.error(f'--device {a.device}: torch sees no CUDA device here')
    if hasattr(a, 'backbone') and a.backbone is None:
        from cpsample_nb.classifier import GUIDANCE_NET
        a.backbone = GUIDANCE_NET.get('backbone', 'conv')


def check_pairs(p, a, available: list, what: str = 'shipped pair') -> None:
    "--pairs names only what ships; --classifier (where there is one) takes NAME=DIR with NAME among --pairs."
    bad = [n for n in a.pairs if n not in available]
    if bad: p.error(f"--pairs: no {what} named {', '.join(map(repr, bad))}; available: {', '.join(available)}")
    if hasattr(a, 'classifier'):
        try: a.swaps = dict(s.split('=', 1) for s in a.classifier)
        except ValueError: p.error(f"--classifier takes NAME=DIR, got {a.classifier}")
        if set(a.swaps) - set(a.pairs):
            p.error(f"--classifier names {sorted(set(a.swaps) - set(a.pairs))}, which are not among --pairs {a.pairs}")
        missing = [d for d in a.swaps.values() if not Path(d).is_dir()]
        if missing: p.error(f"--classifier: no folder {', '.join(missing)}")


class Shipped:
    "The shipped models, from `cpsample_nb.models` (their one registry)."

    @staticmethod
    def denoisers() -> list:
        from cpsample_nb.models import SHIPPED
        return list(SHIPPED['denoiser'])

    @staticmethod
    def classifiers() -> list:
        from cpsample_nb.models import shipped_classifiers
        return shipped_classifiers()

    @staticmethod
    def denoiser(name: str, device='cpu'):
        from cpsample_nb.models import load_shipped_denoiser
        return load_shipped_denoiser(name, device)

    @staticmethod
    def classifier(name: str, device='cpu'):
        from cpsample_nb.models import load_shipped_classifier
        return load_shipped_classifier(name, device)[0]

    @staticmethod
    def quality_classifier():
        from cpsample_nb.models import load_quality_classifier
        return load_quality_classifier()[0]


def shipped_pairs() -> list:
    "Names with both a shipped denoiser and a shipped classifier."
    den = Shipped.denoisers()
    return [n for n in Shipped.classifiers() if n in den]


def pair_classifier(name: str, swaps: dict, device='cpu'):
    "The classifier pair `name` runs with: the train-classifier folder `swaps` gives for it, or the shipped one."
    from cpsample_nb.training import load_classifier
    return load_classifier(swaps[name], device=device)[0] if name in swaps else Shipped.classifier(name, device)


def load_pair(name: str, swaps: dict, device='cpu'):
    "(shipped denoiser, its classifier) of pair `name`; `swaps` as in `pair_classifier`."
    return Shipped.denoiser(name, device), pair_classifier(name, swaps, device)


def setup(a: argparse.Namespace) -> dict:
    "Allocator, then threads, then the machine's description (it names the thread count): printed, and returned for the record."
    import torch
    from cpsample_nb.perf import machine_description, steady_malloc
    malloc = 'default (--default-malloc)' if a.default_malloc else steady_malloc()
    if a.threads:
        torch.set_num_threads(a.threads)
    machine = machine_description(getattr(a, 'device', None))
    print(f'allocator thresholds: {malloc}\nmachine: {machine}', flush=True)
    return {'malloc': malloc, 'machine': machine, 'commit': git_commit()}  # the code the run starts with


def progress(it, desc: str, total=None):
    "A tqdm bar on stderr (shown on a terminal only), gone when done."
    from tqdm.auto import tqdm
    return tqdm(it, desc=desc, total=total, leave=False, disable=None, file=sys.stderr)


def interleaved(names, rounds: int, step, warmup: int = 0, desc: str = 'rounds') -> dict:
    """Call `step(name, round)` for every name in each of `warmup + rounds` rounds, the order rotating
    (`perf.rotations`: no name always runs first); {name: [step's results in the timed rounds]}."""
    from cpsample_nb.perf import rotations
    out = {n: [] for n in names}
    for r, order in enumerate(progress(rotations(list(names), warmup + rounds), desc)):
        for n in order:
            v = step(n, r)
            if r >= warmup: out[n].append(v)
    return out


def git_commit() -> str:
    try:
        r = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else 'unknown'
    except (OSError, subprocess.SubprocessError): return 'unknown'


def _jsonable(v):
    if isinstance(v, Path): return str(v)
    if isinstance(v, dict): return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)): return [_jsonable(x) for x in v]
    return v


def write_record(a: argparse.Namespace, env: dict, results) -> Path:
    "The JSON record: command line, commit, machine, date, allocator, settings, results; to --out or reports/bench/SUB.json."
    out = Path(a.out) if a.out else REPORTS / f'{a.command}.json'
    settings = {k: v for k, v in vars(a).items() if k not in ('func', 'command', 'argv', 'swaps')}
    start, end = env.get('commit') or git_commit(), git_commit()
    rec = {'subcommand': a.command, 'command': 'python benchmarks/bench.py ' + shlex.join(a.argv), 'commit': start,
           **({'commit_at_end': end} if end != start else {}),  # HEAD moved while it ran (the code it ran is `commit`'s, if the tree was clean)
           'machine': env['machine'], 'date': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
           'malloc': env['malloc'], 'settings': _jsonable(settings), 'results': _jsonable(results)}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rec, indent=1))
    print(f'wrote {out}')
    return out


# ---------------------------------------------------------------------------------------------------------------------
# overhead (was bench_shipped_overhead.py)
# ---------------------------------------------------------------------------------------------------------------------

OVERHEAD_HELP = """For each shipped denoiser/classifier pair, `cpsample_nb.perf.measure_overhead` times plain DDIM and CPSample at
each alpha from the same initial noise (one untimed warm-up run of each method, then --repeats interleaved rounds in
rotating order) at the guidance scale the demo uses for that data (`experiments.DATA_SETTINGS`). Reported per method:
the wall-time ratio to plain DDIM within each round, median [min-max] over the rounds, the CPU-time ratio, and the
share of (sample, step) pairs where the rule fired. Issue 13's goals: <= 1.10 at alpha 0.5 and <= 1.03 at alpha 0.001.
--classifier fashion=DIR puts a `cpsample train-classifier` folder's classifier in place of a shipped one (e.g. one
with another network, trained on the same protected subset)."""


def add_overhead(p):
    p.add_argument('--pairs', nargs='+', default=['faces', 'fashion'], help='shipped pairs (denoiser and classifier of one name)')
    p.add_argument('--batch', type=positive_int, default=64)
    p.add_argument('--steps', type=positive_int, default=50)
    p.add_argument('--alphas', type=float, nargs='+', default=[0.5, 0.01, 0.001])
    add_common(p, threads=2, repeats=9, repeats_help='interleaved timed rounds', device='cpu', classifier=True)


def check_overhead(p, a):
    check_pairs(p, a, shipped_pairs())
    bad = [x for x in a.alphas if not 0 < x < 1]
    if bad: p.error(f'--alphas: each must lie in (0, 1), got {bad}')


def run_overhead(a, env):
    from cpsample_nb.classifier import count_parameters
    from cpsample_nb.experiments import DATA_SETTINGS, DEMO_SETTINGS
    from cpsample_nb.perf import measure_overhead
    res = {}
    for name in progress(a.pairs, 'pairs'):
        den, clf = load_pair(name, a.swaps, a.device)
        scale = (DEMO_SETTINGS | DATA_SETTINGS.get(name, {}))['scale']
        r = measure_overhead(den.unet, den.scheduler, clf, batch_size=a.batch, num_inference_steps=a.steps, alphas=tuple(a.alphas),
                             scale=scale, repeats=a.repeats, device=a.device)
        print(f"\n{name}: classifier {count_parameters(clf):,} parameters, s {scale:g}, batch {a.batch}, {a.steps} steps, "
              f"{a.repeats} rounds, {a.threads} threads, {a.device}\n{r}", flush=True)
        res[name] = {'scale': scale, 'classifier': a.swaps.get(name, 'shipped'), 'classifier_parameters': count_parameters(clf)} | r.to_dict()
    return {'pairs': res}


# ---------------------------------------------------------------------------------------------------------------------
# check (was bench_check.py)
# ---------------------------------------------------------------------------------------------------------------------

CHECK_HELP = """At every DDIM step `CPGuidance` runs the classifier on the whole batch, without a graph, to see which samples are
near a training image (p < alpha). This times that call where the sampler makes it: right after a denoiser forward on
the same batch (a call on its own is faster, its caches still warm). Each round runs the denoiser then the check, once
through `TimeClassifier.lean_forward` (what `forward` does under `torch.no_grad()`) and once through the diffusers
blocks' forward (grad mode, nothing requiring grad: no graph), in alternating order (the 'mlp' backbone has one path:
both columns then time the same call); the table gives medians after 5 rounds of warm-up, and the check's share of a
denoiser step."""


def add_check(p):
    p.add_argument('--pairs', nargs='+', default=['fashion', 'faces'], help='shipped pairs (denoiser and classifier of one name)')
    p.add_argument('--batch', nargs='+', type=positive_int, default=[64, 256])
    add_common(p, threads=2, repeats=40, repeats_help='timed rounds after 5 of warm-up', classifier=True)


def check_check(p, a): check_pairs(p, a, shipped_pairs())


def measure_check(unet, clf, batch: int, rounds: int, warmup: int = 5) -> dict:
    "Medians of the denoiser step and of the check (lean and diffusers paths, alternating), ms, and the check's share."
    import torch
    from cpsample_nb.guidance import no_weight_grads
    x = torch.randn(batch, unet.config.in_channels, unet.config.sample_size, unet.config.sample_size)
    t = torch.full((batch,), 500, dtype=torch.long)

    def step(path, _):
        with torch.no_grad():
            a = time.perf_counter(); unet(x, t); b = time.perf_counter()
        with torch.set_grad_enabled(path == 'diffusers'): clf(x, t)
        return b - a, time.perf_counter() - b

    with no_weight_grads(clf):
        res = interleaved(('diffusers', 'lean'), rounds, step, warmup=warmup, desc=f'batch {batch}')
    # the old script's order of the denoiser times (lean, diffusers in odd rounds): the median does not depend on it
    med = {'unet': statistics.median([u for p in res.values() for u, _ in p]) * 1000,
           **{p: statistics.median([c for _, c in v]) * 1000 for p, v in res.items()}}
    return {'batch': batch, 'rounds': rounds, 'unet_ms': med['unet'], 'check_lean_ms': med['lean'],
            'check_diffusers_ms': med['diffusers'], 'share_lean': med['lean'] / med['unet'],
            'share_diffusers': med['diffusers'] / med['unet']}


def run_check(a, env):
    rows = []
    print('| pair | batch | denoiser step, ms | check, lean, ms | check, diffusers blocks, ms | share, lean | share, diffusers |')
    print('|---|---|---|---|---|---|---|')
    for name in a.pairs:
        den, clf = load_pair(name, a.swaps)
        unet, clf = den.unet.eval(), clf.eval()
        for b in a.batch:
            r = {'pair': name, 'classifier': a.swaps.get(name, 'shipped'), **measure_check(unet, clf, b, a.repeats)}
            rows.append(r)
            print(f"| {name} | {b} | {r['unet_ms']:.1f} | {r['check_lean_ms']:.2f} | {r['check_diffusers_ms']:.2f} | "
                  f"{100 * r['share_lean']:.1f}% | {100 * r['share_diffusers']:.1f}% |", flush=True)
    return {'rows': rows}


# ---------------------------------------------------------------------------------------------------------------------
# classifier (was bench_classifier.py)
# ---------------------------------------------------------------------------------------------------------------------

CLASSIFIER_HELP = """Cost of one guidance call, as CPSample makes it when every sample fires: a classifier forward on the batch plus
the backward to its input, against one forward of the denoiser the sampler runs (`cpsample_nb.denoiser.make_unet()`,
the 1.06M-parameter UNet2DModel, 16x16 grayscale, random weights since speed does not depend on them). After
--warmup untimed rounds, every network is timed once per round in rotating order, --repeats rounds; the cost share is
the median over rounds of (classifier time / denoiser time in the same round), with the min-max spread. FLOPs
(torch's FlopCounterMode) are printed too: on a shared machine they are the load-independent measure. Issue 13's
goal: a share <= 8%. --runs NAME=DIR adds, for a `cpsample train-classifier` output folder DIR trained with the
network NAME, its per-band cross-entropy (report.json `bands`) and training wall time."""

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


def add_classifier(p):
    p.add_argument('--batch', type=positive_int, default=64)
    p.add_argument('--size', type=positive_int, default=16)
    p.add_argument('--warmup', type=nonneg_int, default=3, help='untimed rounds first (default: %(default)s)')
    p.add_argument('--configs', nargs='*', default=None, help=f"names from CONFIGS (default: all): {'; '.join(CONFIGS)}")
    p.add_argument('--runs', nargs='*', default=[], metavar='NAME=DIR',
                   help='add per-band CE and training time of a train-classifier run trained with network NAME')
    add_common(p, threads=1, repeats=15, repeats_help='timed rounds (every network once per round)')


def check_classifier(p, a):
    bad = [n for n in a.configs or [] if n not in CONFIGS]
    if bad: p.error(f"--configs: unknown {', '.join(map(repr, bad))}; allowed: {', '.join(map(repr, CONFIGS))}")
    try: a.run_dirs = dict(s.split('=', 1) for s in a.runs)
    except ValueError: p.error(f'--runs takes NAME=DIR, got {a.runs}')
    bad = [n for n in a.run_dirs if n not in (a.configs or CONFIGS)]
    if bad: p.error(f"--runs: {', '.join(map(repr, bad))} not among the timed networks (--configs); allowed: {', '.join(map(repr, a.configs or CONFIGS))}")


def guidance_call(model, x, t):
    "Forward plus the backward to the input, as CPSample does when every sample fires."
    import torch
    xin = x.detach().requires_grad_()
    lp = model(xin, t).log_softmax(-1)[:, 0].sum()
    g, = torch.autograd.grad(lp, xin)
    return g


def flops(fn):
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc: fn()
    return fc.get_total_flops()


def guidance_flops(model, x, t):
    "FLOPs of `guidance_call` (FlopCounterMode cannot watch autograd.grad: the same input-only backward via .backward())."
    for q in model.parameters(): q.requires_grad_(False)
    xin = x.detach().requires_grad_()
    try: return flops(lambda: model(xin, t).log_softmax(-1)[:, 0].sum().backward())
    finally:
        for q in model.parameters(): q.requires_grad_(True)


def run_summary(folder) -> dict:
    "Training wall time, steps and per-band CE of a train-classifier folder: report.json, else its newest checkpoint's history."
    from cpsample_nb.training import latest_checkpoint
    folder = Path(folder)
    if (folder / 'report.json').exists():
        rep = json.loads((folder / 'report.json').read_text())
        return dict(train_seconds=rep['seconds'], train_steps=rep['step'], bands={k: v['ce'] for k, v in rep['bands'].items()})
    last = json.loads((latest_checkpoint(folder) / 'train' / 'state.json').read_text())['history'][-1]
    return dict(train_seconds=last['seconds'], train_steps=last['step'], bands={f"{lo}-{hi}": c for (lo, hi), c in zip(last['bands'], last['ce'])})


def run_classifier(a, env):
    import torch
    from cpsample_nb.classifier import TimeClassifier, count_parameters
    from cpsample_nb.denoiser import make_unet
    names = a.configs or list(CONFIGS)
    torch.manual_seed(0)
    unet = make_unet(a.size).eval()
    models = {n: TimeClassifier(sample_size=a.size, **CONFIGS[n]).eval() for n in names}
    x, t = torch.randn(a.batch, 1, a.size, a.size), torch.full((a.batch,), 500)
    calls = {'denoiser': lambda: unet(x, t).sample} | {n: (lambda m=m: guidance_call(m, x, t)) for n, m in models.items()}
    with torch.no_grad(): den_flops = flops(calls['denoiser'])

    def step(k, _):
        with torch.set_grad_enabled(k != 'denoiser'):
            t0 = time.perf_counter(); calls[k](); return time.perf_counter() - t0

    times = interleaved(list(calls), a.repeats, step, warmup=a.warmup)
    rows = []
    for n in names:
        share = [c / d for c, d in zip(times[n], times['denoiser'])]
        row = {'network': n, 'parameters': count_parameters(models[n]), 'flop_share': guidance_flops(models[n], x, t) / den_flops,
               'cost_share_median': statistics.median(share), 'cost_share_min': min(share), 'cost_share_max': max(share),
               'ms_per_call': 1e3 * statistics.median(times[n])}
        if n in a.run_dirs: row.update(run_summary(a.run_dirs[n]))
        rows.append(row)
    den_ms = 1e3 * statistics.median(times['denoiser'])
    print(f"denoiser forward, batch {a.batch}, {a.size}x{a.size}: {den_ms:.1f} ms "
          f"(median of {a.repeats}), {den_flops / 1e9:.3f} GFLOP, {count_parameters(unet):,} parameters; {a.threads} thread(s); "
          f"allocator thresholds {env['malloc']}")
    print(f"{'network':<20} {'params':>8} {'FLOP share':>10} {'time share (median [min-max])':>30} {'ms':>7}  per-band CE / train s")
    for r in rows:
        extra = (' '.join(f"{k}:{v:.3f}" for k, v in r['bands'].items()) + f" / {r['train_seconds']:.0f} s ({r['train_steps']} steps)") if 'bands' in r else ''
        print(f"{r['network']:<20} {r['parameters']:>8,} {r['flop_share']:>10.1%} {r['cost_share_median']:>12.1%} "
              f"[{r['cost_share_min']:.1%}-{r['cost_share_max']:.1%}]{'':>4} {r['ms_per_call']:>7.1f}  {extra}")
    return {'denoiser_ms': den_ms, 'denoiser_gflop': den_flops / 1e9, 'rows': rows}


# ---------------------------------------------------------------------------------------------------------------------
# nnindex (was bench_nnindex.py)
# ---------------------------------------------------------------------------------------------------------------------

NNINDEX_HELP = """Nearest training neighbour of every query: `cpsample_nb.evaluation.NNIndex` (faiss; exact, and IVF unless --ivf 0)
against a plain chunked torch matrix product. Default: 50,000 queries x 50,000 references, 512-d random features (the
issue's size); the goal is < 60 s on a 2-core CPU. Each step is run once; wall and process CPU seconds (all threads:
wall time alone misleads on a shared machine). Without --threads torch and faiss keep their own thread counts."""


def add_nnindex(p):
    p.add_argument('--n', type=positive_int, default=50_000, help='reference rows')
    p.add_argument('--m', type=positive_int, default=50_000, help='query rows')
    p.add_argument('--dim', type=positive_int, default=512)
    p.add_argument('--k', type=positive_int, default=1)
    p.add_argument('--ivf', type=nonneg_int, default=1024, help='IVF lists for the approximate index (0 skips it)')
    p.add_argument('--nprobe', type=positive_int, default=16)
    add_common(p, threads=None)


def check_nnindex(p, a):
    if a.k > a.n: p.error(f'--k {a.k}: at most --n ({a.n}) neighbours')
    if a.ivf > a.n: p.error(f'--ivf {a.ivf}: at most --n ({a.n}) lists (or 0 to skip the IVF index)')


def torch_topk(queries, reference, k: int = 1, chunk: int = 4096):
    "Baseline: cosine top-k by chunked matrix products (rows already L2-normalised)."
    import torch
    sims, idx = [], []
    for q in queries.split(chunk):
        s, i = (q @ reference.T).topk(k, dim=1)
        sims.append(s); idx.append(i)
    return torch.cat(sims), torch.cat(idx)


def timed(fn) -> tuple:
    "(fn(), wall seconds, process CPU seconds of all threads)."
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def run_nnindex(a, env):
    import faiss
    import torch
    import torch.nn.functional as F
    from cpsample_nb.evaluation import NNIndex
    if a.threads: faiss.omp_set_num_threads(a.threads)
    g = torch.Generator().manual_seed(0)
    ref = F.normalize(torch.randn(a.n, a.dim, generator=g), dim=1)
    qry = F.normalize(torch.randn(a.m, a.dim, generator=g), dim=1)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"{a.m} queries x {a.n} references, dim {a.dim}, k={a.k}; torch threads {torch.get_num_threads()}, faiss threads {faiss.omp_get_max_threads()}")
    bar = progress(None, 'nnindex', total=3 if a.ivf else 2)
    index, tb, cb = timed(lambda: NNIndex(ref))
    (fs, fi), tq, cq = timed(lambda: index.query(qry, a.k)); bar.update()
    rows = [{'method': 'NNIndex exact (faiss IndexFlatIP)', 'build_s': tb, 'query_s': tq, 'build_cpu_s': cb, 'query_cpu_s': cq,
             'total_s': tb + tq, 'top1_vs_exact': 1.0}]
    (ts, ti), tt, ct = timed(lambda: torch_topk(qry, ref, a.k)); bar.update()
    agree = (fi[:, 0] == ti[:, 0]).float().mean().item()
    rows.append({'method': 'torch chunked matmul + topk', 'build_s': 0.0, 'query_s': tt, 'build_cpu_s': 0.0, 'query_cpu_s': ct,
                 'total_s': tt, 'top1_vs_exact': agree})
    if a.ivf:
        ivf, tib, cib = timed(lambda: NNIndex(ref, ivf_lists=a.ivf, nprobe=a.nprobe))
        (vs, vi), tiq, ciq = timed(lambda: ivf.query(qry, a.k)); bar.update()
        rows.append({'method': f'NNIndex IVF (lists={a.ivf}, nprobe={a.nprobe})', 'build_s': tib, 'query_s': tiq, 'build_cpu_s': cib, 'query_cpu_s': ciq,
                     'total_s': tib + tiq, 'top1_vs_exact': (vi[:, 0] == fi[:, 0]).float().mean().item()})
    bar.close()
    print('| method | build (+train), s | query, s | build CPU s | query CPU s | total, s | top-1 agreement with exact |\n|---|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['method']} | {r['build_s']:.2f} | {r['query_s']:.2f} | {r['build_cpu_s']:.1f} | {r['query_cpu_s']:.1f} | {r['total_s']:.2f} "
              f"| {r['top1_vs_exact']:.5f} |")
    diff = (fs[:, 0] - ts[:, 0]).abs().max().item()
    print(f"top-1 agreement faiss vs torch: {agree:.5f}; max |sim diff| {diff:.2e}")
    return {'torch_threads': torch.get_num_threads(), 'faiss_threads': faiss.omp_get_max_threads(), 'max_sim_diff': diff, 'rows': rows}


# ---------------------------------------------------------------------------------------------------------------------
# sampler (was bench_sampler.py)
# ---------------------------------------------------------------------------------------------------------------------

SAMPLER_HELP = """Same denoiser for every run: the project's default UNet (`cpsample_nb.denoiser.make_unet()`: diffusers
UNet2DModel, 16x16 grayscale, widths (32, 64, 64), 1.06M parameters; random weights, since speed does not depend on
them). Same classifier for every CPSample run: a small time-conditioned conv net (timestep embedding, strided
convolutions, GroupNorm, SiLU, pooling, 2 logits); sizes and costs are printed (parameters, MFLOP per image counted by
torch's FlopCounterMode, CPU milliseconds per call). Its logits are rescaled once so that their spread on pure noise
has std --logit-std, which makes the rule fire on some (sample, step) pairs and not others; the fraction that fired is
printed for each alpha. Wall time per image is measured for plain DDIM and for CPSample at alpha in {0.001, 0.1, 0.5}
(tau 1e-3), --steps DDIM steps, --n images per call, the four methods in rotating order, --repeats rounds, round r's
noise seeded with r. Reported: wall time per image (median, min, max) and this process's CPU time per image (median,
min), each with its ratio to plain DDIM. The issue's goal: ratio <= 1.05 at alpha = 0.001 and <= 1.10 at alpha = 0.5
(the paper measured 1.09 at alpha = 0.5 with Stable Diffusion). CPU time (one thread) is the steadier measure on a
shared machine, and its minimum over repeats the least disturbed one."""

SAMPLER_ALPHAS = (0.001, 0.1, 0.5)


def add_sampler(p):
    p.add_argument('--n', type=positive_int, default=8, help='images per sampling call')
    p.add_argument('--steps', type=positive_int, default=50, help='DDIM steps')
    p.add_argument('--width', type=positive_int, default=16, help='classifier channels (a multiple of 4: GroupNorm(4))')
    p.add_argument('--depth', type=positive_int, default=2, help='classifier stride-2 blocks')
    p.add_argument('--logit-std', type=float, default=1.0, help='spread of the classifier logit difference on noise')
    p.add_argument('--scale', type=float, default=1.0, help='CPSample guidance scale s')
    add_common(p, threads=1, repeats=9, repeats_help='timed runs per method (interleaved)')


def check_sampler(p, a):
    if a.width % 4: p.error(f'--width {a.width}: must be a multiple of 4 (the classifier uses GroupNorm(4, width))')
    if not a.logit_std > 0: p.error(f'--logit-std {a.logit_std}: must be > 0')
    if a.scale < 0: p.error(f'--scale {a.scale}: must be >= 0')


def bench_classifier_module(channels=1, width=8, depth=2):
    "Time-conditioned conv classifier: conv_in, `depth` stride-2 conv blocks, GroupNorm-SiLU-pool, linear -> 2 logits."
    import torch
    from torch import nn
    from diffusers.models.embeddings import TimestepEmbedding, Timesteps

    class BenchClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.time_proj, self.time_emb = Timesteps(width, True, 0), TimestepEmbedding(width, width)
            self.conv_in = nn.Conv2d(channels, width, 3, padding=1)
            self.blocks = nn.ModuleList(nn.Sequential(nn.GroupNorm(4, width), nn.SiLU(), nn.Conv2d(width, width, 3, stride=2, padding=1))
                                        for _ in range(depth))
            self.head = nn.Sequential(nn.GroupNorm(4, width), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 2))
            self.register_buffer('logit_scale', torch.ones(()))

        def forward(self, x, t):
            h = self.conv_in(x) + self.time_emb(self.time_proj(t).to(x.dtype))[:, :, None, None]
            for b in self.blocks: h = b(h)
            return self.logit_scale * self.head(h)

    return BenchClassifier()


def sampler_costs(unet, clf, n):
    "GFLOP per image and median CPU ms per call (batch n) for a unet forward, a classifier forward, and classifier forward+backward."
    import torch
    x, t, tv = torch.randn(n, 1, 16, 16), torch.tensor(500), torch.full((n,), 500)

    def unet_fwd():
        with torch.no_grad(): unet(x, t)

    def clf_fwd():
        with torch.no_grad(): clf(x, tv)

    def clf_fwd_bwd():  # the classifier is frozen (as when sampling): the backward computes the input gradient only
        xg = x.clone().requires_grad_()
        clf(xg, tv).log_softmax(1)[:, 0].sum().backward()

    def ms_per_call(fn, reps=20):
        fn()
        ts = []
        for _ in range(reps):
            s = time.process_time(); fn(); ts.append(time.process_time() - s)
        return 1e3 * statistics.median(ts)

    return {k: (flops(f) / n / 1e9, ms_per_call(f)) for k, f in
            (('unet forward', unet_fwd), ('classifier forward', clf_fwd), ('classifier forward+backward', clf_fwd_bwd))}


def calibrate(clf, std, seed=0):
    "Rescale the classifier's logits so that the logit difference on pure noise at t=999 has standard deviation `std`."
    import torch
    x = torch.randn(256, 1, 16, 16, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        d = clf(x, torch.full((256,), 999)).diff(dim=1)
        clf.logit_scale.fill_(std / d.std().item())


def run_sampler(a, env):
    import torch
    from diffusers import DDPMScheduler
    from cpsample_nb.denoiser import make_unet
    from cpsample_nb.sampler import cpsample, plain_ddim
    torch.manual_seed(0)
    unet, sched = make_unet().eval(), DDPMScheduler(num_train_timesteps=1000)
    torch.manual_seed(1)
    clf = bench_classifier_module(width=a.width, depth=a.depth).eval().requires_grad_(False)
    calibrate(clf, a.logit_std)
    params = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    print(f'{a.n} images per call, {a.steps} DDIM steps, scale {a.scale}')
    print(f'unet: {params(unet):,} parameters; classifier: {params(clf):,} parameters ({params(clf) / params(unet):.2%} of the unet)')
    c = sampler_costs(unet, clf, a.n)
    base_flop, base_ms = c['unet forward']
    for k, (gf, ms) in c.items():
        print(f'  {k:<28s} {gf * 1e3:8.2f} MFLOP/image ({gf / base_flop:6.1%} of a unet forward)   '
              f'{ms:7.2f} CPU ms per call of {a.n} ({ms / base_ms:6.1%})')

    gen = lambda s: torch.Generator().manual_seed(s)  # noqa: E731
    common = dict(batch_size=a.n, num_inference_steps=a.steps)
    methods = {'plain DDIM': lambda s: (plain_ddim(unet, sched, generator=gen(s), **common), None)}
    for al in SAMPLER_ALPHAS:
        methods[f'CPSample alpha={al}'] = (lambda al: lambda s: cpsample(unet, sched, clf, alpha=al, scale=a.scale, generator=gen(s),
                                                                         return_trace=True, **common))(al)

    def step(k, r):
        w, cp = time.perf_counter(), time.process_time()
        _, trace = methods[k](r)
        return (time.perf_counter() - w) / a.n, (time.process_time() - cp) / a.n, None if trace is None else trace.fire_rate

    res = interleaved(list(methods), a.repeats, step)
    wall = {k: [w for w, _, _ in v] for k, v in res.items()}
    cpu = {k: [c for _, c, _ in v] for k, v in res.items()}
    fired = {k: [f for _, _, f in v if f is not None] for k, v in res.items()}
    med, lo, p = statistics.median, min, 'plain DDIM'
    print(f'\nseconds per image over {a.repeats} runs (wall time: median, min, max; CPU time of this process: median, min),'
          ' each with its ratio to plain DDIM')
    print(f'{"method":<22s} {"wall med":>9s} {"min":>7s} {"max":>7s} {"ratio":>6s} {"r(min)":>6s} {"CPU med":>8s} {"min":>7s} {"ratio":>6s} {"r(min)":>6s} {"fired":>7s}')
    rows = []
    for k in methods:
        f = f'{statistics.mean(fired[k]):.1%}' if fired[k] else '-'
        print(f'{k:<22s} {med(wall[k]):9.4f} {lo(wall[k]):7.4f} {max(wall[k]):7.4f} {med(wall[k]) / med(wall[p]):6.3f} {lo(wall[k]) / lo(wall[p]):6.3f} '
              f'{med(cpu[k]):8.4f} {lo(cpu[k]):7.4f} {med(cpu[k]) / med(cpu[p]):6.3f} {lo(cpu[k]) / lo(cpu[p]):6.3f} {f:>7s}')
        rows.append({'method': k, 'wall': wall[k], 'cpu': cpu[k], 'wall_ratio_median': med(wall[k]) / med(wall[p]),
                     'wall_ratio_min': lo(wall[k]) / lo(wall[p]), 'cpu_ratio_median': med(cpu[k]) / med(cpu[p]),
                     'cpu_ratio_min': lo(cpu[k]) / lo(cpu[p]), 'fired': statistics.mean(fired[k]) if fired[k] else None})
    print('(fired: share of (sample, step) pairs where the rule fired; CPU time is the steadier measure on a shared machine)')
    return {'parameters': {'unet': params(unet), 'classifier': params(clf)},
            'costs': {k: {'gflop_per_image': gf, 'cpu_ms_per_call': ms} for k, (gf, ms) in c.items()}, 'rows': rows}


# ---------------------------------------------------------------------------------------------------------------------
# scaling (was bench_scaling.py)
# ---------------------------------------------------------------------------------------------------------------------

SCALING_HELP = """At every resolution and batch size, `cpsample_nb.perf.measure_overhead` times plain DDIM and CPSample at alpha 0.5
(the rule fires at every step: a classifier backward at every step, the worst case) and at alpha 0.001 (it fires
rarely: little more than the classifier's forward is paid), all from the same initial noise: one untimed warm-up run
of each method, then --repeats interleaved rounds in rotating order. Reported per point: images per second (the
reciprocal of the median wall time per image) of plain DDIM and of CPSample at alpha 0.5, and CPSample's wall-time
ratio to plain DDIM in the same round, median [min-max] over the rounds, with the share of (sample, step) pairs where
the rule fired at alpha 0.001. The JSON also holds every round's wall and CPU times. Models: the project's default
denoiser, `make_unet(size, 1)`, and a `TimeClassifier`: by default GUIDANCE_NET's conv network with widths
--classifier-channels and a stride---stem-stride input convolution, or with --backbone mlp the MLP family of width
--mlp-width; both with RANDOM (seeded) weights. --compile wraps both in torch.compile (compiled during the untimed
warm-up); --half puts both in float16 (CUDA only: on the CPU float16 kernels are slow fallbacks)."""

SCALING_ALPHAS = (0.5, 0.001)


def add_scaling(p):
    from_net = "(default: GUIDANCE_NET's)"
    p.add_argument('--compile', action='store_true', help='torch.compile the unet and the classifier')
    p.add_argument('--half', action='store_true', help='float16 weights and noise (CUDA only)')
    p.add_argument('--steps', type=positive_int, default=20, help='DDIM steps per sampling call')
    p.add_argument('--batches', type=positive_int, nargs='+', default=[1, 8, 64, 256], help='images per sampling call')
    p.add_argument('--sizes', type=positive_int, nargs='+', default=[16, 32], help='image height and width (multiples of 4)')
    p.add_argument('--mlp-width', type=positive_int, default=None, help=f"hidden width of an 'mlp' classifier {from_net}")
    p.add_argument('--classifier-channels', type=positive_int, nargs='+', default=[8, 16], help="block widths of a 'conv' classifier")
    p.add_argument('--stem-stride', type=positive_int, default=2, help="stride of a 'conv' classifier's input convolution")
    p.add_argument('--scale', type=float, default=1.0, help='CPSample guidance scale s')
    add_common(p, threads=1, repeats=7, repeats_help='interleaved timed rounds per point', device='auto', backbone=True)


def check_scaling(p, a):
    from cpsample_nb.classifier import GUIDANCE_NET
    if a.mlp_width is None: a.mlp_width = GUIDANCE_NET.get('mlp_width', 256)
    if a.half and not a.device.startswith('cuda'):
        p.error('--half needs --device cuda: on the CPU float16 runs on slow fallback kernels, so its timings would mislead')
    bad = [s for s in a.sizes if s % 4]
    if bad: p.error(f'--sizes: each must be a multiple of 4 (the denoiser has 3 levels), got {bad}')
    if a.scale < 0: p.error(f'--scale {a.scale}: must be >= 0')


def scaling_models(size: int, a, device, dtype):
    "The default denoiser and a TimeClassifier of the chosen widths, random seeded weights, frozen, on `device` in `dtype`."
    import torch
    from cpsample_nb.classifier import TimeClassifier
    from cpsample_nb.denoiser import make_unet
    chans = tuple(a.classifier_channels)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        unet = make_unet(size, 1)
        torch.manual_seed(1)
        clf = (TimeClassifier(sample_size=size, in_channels=1, backbone='mlp', mlp_width=a.mlp_width) if a.backbone == 'mlp' else
               TimeClassifier(sample_size=size, in_channels=1, block_out_channels=chans, stem_stride=a.stem_stride,
                              norm_num_groups=math.gcd(8, *chans)))
    unet, clf = (m.to(device, dtype).eval().requires_grad_(False) for m in (unet, clf))
    params = tuple(sum(q.numel() for q in m.parameters()) for m in (unet, clf))
    if a.compile: unet, clf = torch.compile(unet), torch.compile(clf)
    return unet, clf, params


def _spread(r: dict) -> str: return f"{r['median']:.3f} [{r['min']:.3f}-{r['max']:.3f}]"


def run_scaling(a, env):
    import torch
    from diffusers import DDPMScheduler
    from diffusers.utils import logging as diffusers_logging
    from cpsample_nb.perf import measure_overhead
    diffusers_logging.set_verbosity_error()  # silence the note that `.to(dtype)` is not `from_pretrained(torch_dtype=...)`
    device, dtype = torch.device(a.device), torch.float16 if a.half else torch.float32
    sched = DDPMScheduler(num_train_timesteps=1000)
    desc = (f"'mlp' backbone, width {a.mlp_width}" if a.backbone == 'mlp' else
            f"'conv' backbone, widths {tuple(a.classifier_channels)}, stem stride {a.stem_stride}")
    print(f'{dtype}, compile={a.compile}; {a.steps} DDIM steps, {a.repeats} rounds, scale {a.scale}; classifier {desc} (random weights)')
    models = {size: scaling_models(size, a, device, dtype) for size in a.sizes}
    for size, (_, _, params) in models.items():
        print(f'{size}x{size}: unet {params[0]:,} parameters, classifier {params[1]:,} parameters ({params[1] / params[0]:.1%})')
    print('| batch | res | ims/s DDIM | ims/s CPSample a=0.5 | overhead a=0.5 median [min-max] '
          '| overhead a=0.001 median [min-max] | fired a=0.001 |\n|---|---|---|---|---|---|---|', flush=True)
    rows = []
    points = [(size, batch) for size in models for batch in a.batches]
    for size, batch in progress(points, 'points'):
        unet, clf, params = models[size]
        t0 = time.perf_counter()
        res = measure_overhead(unet, sched, clf, batch_size=batch, num_inference_steps=a.steps, alphas=SCALING_ALPHAS, scale=a.scale,
                               repeats=a.repeats, warmup=1, device=device)
        ims = {m: 1 / res.per_image(m)['median'] for m in res.wall}
        r = {'batch': batch, 'res': size, 'unet_parameters': params[0], 'classifier_parameters': params[1],
             'ims_per_s_ddim': ims['ddim'], 'ims_per_s_cpsample_a0.5': ims['cpsample a=0.5'],
             **{f'overhead_a{al:g}': res.overhead(al) for al in SCALING_ALPHAS},
             **{f'cpu_overhead_a{al:g}': res.overhead(al, 'cpu') for al in SCALING_ALPHAS},
             **{f'fired_a{al:g}': res.fired_at(al) for al in SCALING_ALPHAS},
             'seconds': time.perf_counter() - t0, 'measurement': res.to_dict()}
        rows.append(r)
        print(f"| {batch} | {size} | {r['ims_per_s_ddim']:.1f} | {r['ims_per_s_cpsample_a0.5']:.1f} "
              f"| {_spread(r['overhead_a0.5'])} | {_spread(r['overhead_a0.001'])} | {r['fired_a0.001']:.1%} |", flush=True)
    print('\n(overhead: CPSample wall time over plain DDIM in the same round; images per second: 1 / median wall time per image)')
    return {'torch': torch.__version__, 'dtype': str(dtype), 'alphas': SCALING_ALPHAS, 'rows': rows}


# ---------------------------------------------------------------------------------------------------------------------
# small-batch (was bench_small_batch.py)
# ---------------------------------------------------------------------------------------------------------------------

SMALL_BATCH_HELP = """When few samples fire, CPSample runs the classifier forward and the backward to x_t over those samples alone, and up
to `guidance.SMALL_CPU_BATCH` of them it turns oneDNN off for that pass (`small_batch_convs`). This times that pass
(forward with a graph, log(tau + p), gradient to the input) on a shipped classifier (16x16) for each number of firing
samples, with oneDNN on and off in alternating order, after 8 untimed rounds; the table gives medians over --repeats
rounds."""


def add_small_batch(p):
    p.add_argument('--pairs', nargs='+', default=['fashion', 'faces'], help='shipped classifiers')
    p.add_argument('--n', nargs='+', type=positive_int, default=[4, 8, 12, 16, 24, 32, 64], help='numbers of firing samples')
    add_common(p, threads=2, repeats=40, repeats_help='timed rounds after 8 of warm-up')


def check_small_batch(p, a):
    check_pairs(p, a, Shipped.classifiers(), 'shipped classifier')


def guidance_pass(clf, x, t):
    import torch
    with torch.enable_grad():
        xs = x.clone().requires_grad_(True)
        lp = torch.log(1e-3 + clf(xs, t).softmax(-1)[:, 1]).sum()
        return torch.autograd.grad(lp, xs)[0]


def measure_small_batch(clf, n: int, rounds: int, warmup: int = 8) -> dict:
    import torch
    x, t = torch.randn(n, clf.config.in_channels, 16, 16), torch.full((n,), 300)

    def step(onednn, _):
        with torch.backends.mkldnn.flags(enabled=onednn):
            a = time.perf_counter(); guidance_pass(clf, x, t); return time.perf_counter() - a

    with warnings.catch_warnings():  # mkldnn.flags notes that TF32 on oneDNN needs an Intel GPU: nothing to do with this timing
        warnings.filterwarnings('ignore', message='TF32 acceleration on top of oneDNN')
        times = interleaved((False, True), rounds, step, warmup=warmup, desc=f'n {n}')
    return {'n': n, 'onednn_ms': statistics.median(times[True]) * 1e3, 'native_ms': statistics.median(times[False]) * 1e3}


def run_small_batch(a, env):
    from cpsample_nb.guidance import SMALL_CPU_BATCH, no_weight_grads
    rows = []
    print(f'SMALL_CPU_BATCH = {SMALL_CPU_BATCH}; {a.threads} threads\n')
    print('| classifier | firing samples | oneDNN, ms | native, ms | faster |')
    print('|---|---|---|---|---|')
    for name in a.pairs:
        clf = Shipped.classifier(name).eval()
        with no_weight_grads(clf):
            for n in a.n:
                r = {'classifier': name, **measure_small_batch(clf, n, a.repeats)}
                rows.append(r)
                print(f"| {name} | {n} | {r['onednn_ms']:.2f} | {r['native_ms']:.2f} | "
                      f"{'native' if r['native_ms'] < r['onednn_ms'] else 'oneDNN'} |", flush=True)
    return {'small_cpu_batch': SMALL_CPU_BATCH, 'rows': rows}


# ---------------------------------------------------------------------------------------------------------------------
# sd-study (was sd_study.py)
# ---------------------------------------------------------------------------------------------------------------------

SD_STUDY_HELP = """Does a smaller alpha, or a larger protected set, leave ordinary captions alone? The case study of 19_text2image
on the shipped mini text-to-image model: a latent classifier is trained on the four case images and EXTRA ordinary
training images of their classes, then for every ALPHA:S each case's original, modified and ordinary caption is
sampled plain and with CPSample from the same --seeds seeds (copy shares, Fisher p-value, content agreement by the
quality classifier, rule fire rate, change). --nonmembers N: N more ordinary training images of those classes
(outside the protected set) that the classifier is trained toward p = 1/2 (`train_classifier(nonmembers=...)`, an
extension of the paper). The old script wrote outputs/sd_study_extraEXTRA[_nmN].json; give --out for one file per run."""


def add_sd_study(p):
    p.add_argument('extra', type=nonneg_int, help="ordinary training images of the cases' classes protected beside the four case images")
    p.add_argument('steps', type=positive_int, help='latent classifier training steps')
    p.add_argument('settings', nargs='+', metavar='ALPHA:S', help='CPSample settings, e.g. 0.1:100')
    p.add_argument('--nonmembers', type=nonneg_int, default=0, help='ordinary images trained toward p = 1/2 (default: 0, none)')
    p.add_argument('--nonmember-weight', type=float, default=1.0)
    p.add_argument('--seeds', type=positive_int, default=50, help='outputs per caption and sampler (default: %(default)s)')
    p.add_argument('--inference-steps', type=positive_int, default=25, help='DDIM steps per output (default: %(default)s)')
    p.add_argument('--guidance-scale', type=float, default=7.5, help='classifier-free guidance (default: %(default)s)')
    add_common(p, threads=1)


def check_sd_study(p, a):
    pairs = []
    for s in a.settings:
        try: al, sc = map(float, s.split(':'))
        except ValueError: p.error(f'settings: each is ALPHA:S (e.g. 0.1:100), got {s!r}')
        if not 0 < al < 1 or sc < 0: p.error(f'settings: ALPHA must lie in (0, 1) and S be >= 0, got {s!r}')
        pairs.append((al, sc))
    a.alpha_scale = pairs
    from cpsample_nb.text2image import shipped_t2i_folder
    if shipped_t2i_folder() is None: p.error('sd-study needs the shipped mini text-to-image model (cpsample_nb/assets/t2i_fashion16), absent here')


def run_sd_study(a, env):
    from cpsample_nb.classifier import MemorisationReport
    from cpsample_nb.training import TrainConfig
    from cpsample_nb.data import heldout_threshold, load_fashion_mnist
    from cpsample_nb.evaluation import format_table
    from cpsample_nb.stable_diffusion import CPSampleSDPipeline, train_latent_classifier
    from cpsample_nb.text2image import captioned_fashion, class_caption, load_t2i, shipped_t2i_folder
    from cpsample_nb.t2i_study import case_study, nonmember_images, protected_images
    qual = Shipped.quality_classifier()
    folder = shipped_t2i_folder(); man = json.loads((folder / 'manifest.json').read_text())
    data = captioned_fashion(*load_fashion_mnist('train', 16), n=man['data']['n'], copies=man['data']['copies'], seed=man['data']['seed'])
    test_x = load_fashion_mnist('test', 16)[0]
    non = nonmember_images(data, a.nonmembers, a.extra) if a.nonmembers else None
    mini = load_t2i(folder)
    t0 = time.perf_counter()
    res_clf = train_latent_classifier(mini.vae, protected_images(data, a.extra), mini.scheduler, progress=sys.stderr.isatty(), nonmembers=non,
                                      config=TrainConfig(steps=a.steps, batch_size=50, eval_every=0, checkpoint_every=0,
                                                         nonmember_weight=a.nonmember_weight))
    print(f'latent classifier on {4 + a.extra} images, {a.nonmembers} non-members: {res_clf.step} steps, {time.perf_counter() - t0:.0f} s;\n',
          MemorisationReport(**res_clf.history[-1]) if res_clf.history else '', flush=True)
    pipe = CPSampleSDPipeline(mini.vae, mini.text_encoder, mini.tokenizer, mini.unet, mini.scheduler, classifier=res_clf.model.eval())
    pipe.set_progress_bar_config(disable=True)
    keep = ('copy_plain', 'copy_cpsample', 'p_value', 'fire_rate', 'agree_plain', 'agree_cpsample', 'unchanged', 'mean_abs_change')
    out = []
    for alpha, scale in a.alpha_scale:
        t0 = time.perf_counter(); rows = []
        for c in progress(data.cases, f'alpha {alpha:g}, s {scale:g}'):
            target = data.case_image(c); thr = heldout_threshold(target[None], test_x, 0.999)
            for kind, cap in (('original', c.original), ('modified', c.modified), ('ordinary', class_caption(c.label))):
                r, _, _ = case_study(pipe, cap, target, c.label, range(a.seeds), thr, qual, alpha=alpha, scale=scale,
                                     guidance_scale=a.guidance_scale, num_inference_steps=a.inference_steps)
                rows.append({'case': c.name, 'kind': kind, **{k: v for k, v in r.items() if k in keep}})
        print(f'\nextra {a.extra}, alpha {alpha}, s {scale}: {time.perf_counter() - t0:.0f} s'); print(format_table(rows), flush=True)
        out.append({'extra': a.extra, 'steps': a.steps, 'nonmembers': a.nonmembers, 'nonmember_weight': a.nonmember_weight,
                    'alpha': alpha, 'scale': scale, 'rows': rows, 'classifier': res_clf.history[-1] if res_clf.history else None})
    return {'runs': out}


# ---------------------------------------------------------------------------------------------------------------------
# gate (issue 24: how well a gate predicts that a trajectory ends as a copy)
# ---------------------------------------------------------------------------------------------------------------------

GATE_HELP = """`cpsample_nb.guidance.gate_report` on --n plain DDIM trajectories of a shipped pair: at every step, the ROC AUC of
the classifier's confidence max_y p(y | x_t, t) for 'this trajectory ends as a copy' (pixel cosine to its nearest
protected image above the held-out threshold: the 99.9th percentile of the test images' nearest cosine), beside
the bound (x0_hat's nearest cosine to the protected set), and the share of copy and of novel trajectories on which
the rule fires at --alpha at some step. AUC intervals: Hanley-McNeil 95%; shares: Wilson 95%. The figure goes
beside the JSON (same name, .png)."""


def add_gate(p):
    p.add_argument('--pair', default='fashion', help='shipped pair (denoiser and classifier of one name; default: %(default)s)')
    p.add_argument('--n', type=int_at_least(2), default=600, help='trajectories (default: %(default)s)')
    p.add_argument('--steps', type=positive_int, default=50, help='DDIM steps (default: %(default)s)')
    p.add_argument('--alpha', type=float, default=None, help="tolerance for the firing shares (default: the pair's guidance.SETTINGS alpha)")
    p.add_argument('--batch', type=positive_int, default=200, help='trajectories per batch (default: %(default)s)')
    p.add_argument('--seed', type=nonneg_int, default=0, help='batch i is seeded with seed + i (default: %(default)s)')
    p.add_argument('--read', default='x_t', choices=['x_t', 'x0_hat'], help="what the classifier reads: x_t at t (the published gate) or the step's x0_hat at --t-read (default: %(default)s)")
    p.add_argument('--t-read', type=nonneg_int, default=0, help='with --read x0_hat: the timestep the classifier is told (default: %(default)s)')
    add_common(p, threads=None, classifier=True)


def check_gate(p, a):
    a.pairs = [a.pair]
    check_pairs(p, a, shipped_pairs())
    if a.alpha is not None and not 0 < a.alpha <= 0.5: p.error(f'--alpha must lie in (0, 0.5], got {a.alpha}')


def auc_interval(auc: float, n_pos: int, n_neg: int) -> list:
    "Hanley-McNeil 95% interval of an AUC from n_pos positives and n_neg negatives."
    if math.isnan(auc): return [float('nan')] * 2
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    se = math.sqrt(max(0.0, auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg))
    return [max(0.0, auc - 1.96 * se), min(1.0, auc + 1.96 * se)]


def run_gate(a, env):
    from cpsample_nb.data import heldout_threshold, load_fashion_mnist, load_faces
    from cpsample_nb.evaluation import wilson_interval
    from cpsample_nb.guidance import SETTINGS, classifier_gate, gate_report
    den, clf = load_pair(a.pair, a.swaps)
    S = den.subset.images
    held = load_fashion_mnist('test', 16)[0] if a.pair == 'fashion' else load_faces()[[i for i in range(100) if i not in set(den.subset.indices.tolist())]]
    thr = heldout_threshold(S, held)
    alpha = a.alpha if a.alpha is not None else SETTINGS.get(a.pair, SETTINGS['paper'])['alpha']
    rep = gate_report(den.unet, den.scheduler, classifier_gate(clf, a.read, a.t_read), S, threshold=thr, alpha=alpha, n=a.n, num_inference_steps=a.steps,
                      batch_size=a.batch, seed=a.seed, progress=lambda it: progress(it, 'batches'))
    npos, nneg = rep.copies, rep.n - rep.copies
    rows = []
    for k, t in enumerate(rep.timesteps):
        rows.append({'t': t, 'auc': rep.auc[k], 'auc_ci': auc_interval(rep.auc[k], npos, nneg),
                     'bound_auc': rep.bound_auc[k], 'bound_ci': auc_interval(rep.bound_auc[k], npos, nneg)})
    print(f"{a.pair}: {npos} of {rep.n} trajectories end as copies (threshold {thr:.4f}); at alpha {alpha:g} the rule fires on "
          f"{rep.fired_copies:.1%} of copies and {rep.fired_novel:.1%} of novel samples")
    print('     t   gate AUC [95%]          bound AUC [95%]')
    for r in rows[::max(1, len(rows) // 12)] + [rows[-1]]:
        print(f"{r['t']:6d}   {r['auc']:.3f} [{r['auc_ci'][0]:.3f}-{r['auc_ci'][1]:.3f}]   {r['bound_auc']:.3f} [{r['bound_ci'][0]:.3f}-{r['bound_ci'][1]:.3f}]")
    import matplotlib
    matplotlib.use('Agg')
    ax = rep.plot(title=f"{a.pair}: {npos}/{rep.n} copies; fires on {rep.fired_copies:.0%} of copies, {rep.fired_novel:.0%} of novel (alpha {alpha:g})")
    fig_path = (Path(a.out) if a.out else REPORTS / 'gate.json').with_suffix('.png')
    fig_path.parent.mkdir(parents=True, exist_ok=True)
    ax.figure.savefig(fig_path, dpi=90, bbox_inches='tight')
    return {'pair': a.pair, 'n': rep.n, 'copies': npos, 'threshold': thr, 'alpha': alpha,
            'fired_copies': rep.fired_copies, 'fired_copies_ci': list(wilson_interval(round(rep.fired_copies * npos), npos)),
            'fired_novel': rep.fired_novel, 'fired_novel_ci': list(wilson_interval(round(rep.fired_novel * nneg), nneg)), 'steps': rows, 'figure': str(fig_path.relative_to(ROOT) if fig_path.is_relative_to(ROOT) else fig_path)}


# ---------------------------------------------------------------------------------------------------------------------
# frontier (issue 24, item 4: protection, privacy, quality and compute of each sampler, from the same noise)
# ---------------------------------------------------------------------------------------------------------------------

FRONTIER_HELP = """Each sampler draws --n images from the same noise (batch i seeded with --seed + i): plain DDIM, CPSample with the
published rule at the pair's guidance.SETTINGS, rejection sampling (plain DDIM, redrawing every copy; cp-rejection: CPSample, redrawing the copies it still makes;
gated-rejection: the --gated push, the same; --reject-at redraws below the copy line), and AMG's
dissimilarity guidance (sampler.amg_sample, which keeps S at sampling time), the bound gate driving CPSample's push, and
CPSample's rule read on x0_hat with a classifier of --x0 (guidance.X0Guidance). For each: copies (pixel cosine to S above
the held-out threshold; Wilson 95%), the sample-only membership attack on the released images (S against as many
test images; AUC and TPR at 1% FPR, bootstrap 95%), quality as fd_fmnist_classifier and pixel-PCA Frechet distance to
the 10,000 test images (bootstrap 95% over the samples), and wall time over plain DDIM's (this run, this machine)."""


def add_frontier(p):
    p.add_argument('--pair', default='fashion', choices=['fashion'], help='shipped pair (default: %(default)s)')
    p.add_argument('--n', type=int_at_least(2), default=2000, help='images per sampler (default: %(default)s)')
    p.add_argument('--steps', type=positive_int, default=50, help='DDIM steps (default: %(default)s)')
    p.add_argument('--samplers', nargs='+', default=['ddim', 'cpsample', 'rejection', 'amg'], choices=['ddim', 'cpsample', 'rejection', 'cp-rejection', 'amg', 'bound', 'x0', 'gated', 'gated-rejection', 'band'])
    p.add_argument('--bound', nargs='+', default=['0.9:10'], metavar='THRESHOLD:SCALE',
                   help="'bound': CPSample's push where x0_hat's cosine to S is above THRESHOLD (guidance.GatedGuidance with x0_bound_gate; default: %(default)s)")
    p.add_argument('--amg', nargs='+', default=['0.95:10'], metavar='THRESHOLD:SCALE', help="AMG settings (default: %(default)s)")
    p.add_argument('--amg-through-denoiser', action='store_true', help="AMG's gradient through the denoiser, as in AMG (default: eps held fixed)")
    p.add_argument('--x0', nargs='+', default=[], metavar='DIR:ALPHA:SCALE',
                   help="'x0': CPSample's rule and push on x0_hat (guidance.X0Guidance, t_read 0) with the train-classifier folder DIR's classifier")
    p.add_argument('--gated', nargs='+', default=[], metavar='DIR:THRESHOLD:SCALE',
                   help="'gated': the pair's CPSample push where DIR's classifier, reading x0_hat at t 0, is more confident than THRESHOLD (GatedGuidance); "
                        "DIR+DIR+...: several classifiers of independent random labels (label bits), the product of their confidences against THRESHOLD "
                        "(k two-way classifiers: the product is at least 0.5^k, so a THRESHOLD below that flags every sample)")
    p.add_argument('--oversample', nargs='+', type=float, default=[0.0], metavar='X',
                   help="rejection, cp-rejection and gated-rejection: each round draws (1 + X) x the images still missing "
                        "(rejection_sample's oversample; one sampler per X; default: %(default)s)")
    p.add_argument('--gate-t-max', type=nonneg_int, default=None, metavar='T',
                   help="gated and gated-rejection: ask the gate only at t <= T (GatedGuidance t_max; default: every step)")
    p.add_argument('--gate-latch', action='store_true', help="gated and gated-rejection: a sample the gate flags is pushed at every later step (GatedGuidance latch)")
    p.add_argument('--band', nargs='+', default=[], metavar='RULE:ALPHA:SCALE:LO-HI',
                   help="'band': a rule that acts only at timesteps LO <= t <= HI (no classifier call outside): RULE 'cp' is the published "
                        "rule with the pair's classifier, a train-classifier folder is the x0_hat rule (X0Guidance) with its classifier")
    p.add_argument('--reject-at', nargs='+', type=float, default=[], metavar='COSINE',
                   help="rejection, cp-rejection and gated-rejection: redraw every sample whose pixel cosine to S is above COSINE (one sampler each; "
                        "copies are still counted at the held-out threshold): how far below the copy line must one reject before the "
                        "sample-only attack stops seeing S? (default: the held-out threshold)")
    p.add_argument('--batch', type=positive_int, default=250, help='images per batch (default: %(default)s)')
    p.add_argument('--seed', type=nonneg_int, default=0)
    p.add_argument('--boot', type=positive_int, default=200, help='bootstrap resamples (default: %(default)s)')
    p.add_argument('--time-rounds', type=nonneg_int, default=0, metavar='R',
                   help='then time every sampler on one --batch in R interleaved rounds (round r: batch seed --seed + r for all, '
                        'the order rotating), each as a ratio to plain DDIM in its round: median [min-max] (needs ddim; default: 0, none)')
    add_common(p, threads=None)


def check_frontier(p, a):
    try: a.amg_settings = [tuple(float(v) for v in s.split(':')) for s in a.amg]
    except ValueError: p.error(f'--amg: each is THRESHOLD:SCALE, got {a.amg}')
    if any(len(t) != 2 or not -1 <= t[0] < 1 or t[1] < 0 for t in a.amg_settings): p.error(f'--amg: THRESHOLD in [-1, 1), SCALE >= 0, got {a.amg}')
    try: a.bound_settings = [tuple(float(v) for v in s.split(':')) for s in a.bound]
    except ValueError: p.error(f'--bound: each is THRESHOLD:SCALE, got {a.bound}')
    if any(len(t) != 2 or not -1 <= t[0] < 1 or t[1] < 0 for t in a.bound_settings): p.error(f'--bound: THRESHOLD in [-1, 1), SCALE >= 0, got {a.bound}')
    try: a.x0_settings = [(d, float(al), float(sc)) for d, al, sc in (s.rsplit(':', 2) for s in a.x0)]
    except ValueError: p.error(f'--x0: each is DIR:ALPHA:SCALE, got {a.x0}')
    if any(not Path(d).is_dir() or not 0 < al <= 0.5 or sc < 0 for d, al, sc in a.x0_settings): p.error(f'--x0: DIR an existing folder, ALPHA in (0, 0.5], SCALE >= 0, got {a.x0}')
    if ('x0' in a.samplers) != bool(a.x0): p.error("--samplers x0 and --x0 DIR:ALPHA:SCALE go together")
    try: a.gated_settings = [(d, float(th), float(sc)) for d, th, sc in (s.rsplit(':', 2) for s in a.gated)]
    except ValueError: p.error(f'--gated: each is DIR:THRESHOLD:SCALE, got {a.gated}')
    if any(not all(Path(x).is_dir() for x in d.split('+')) or not 0 < th < 1 or sc < 0 for d, th, sc in a.gated_settings):
        p.error(f'--gated: DIR an existing folder (or DIR+DIR...), THRESHOLD in (0, 1), SCALE >= 0, got {a.gated}')
    if bool({'gated', 'gated-rejection'} & set(a.samplers)) != bool(a.gated): p.error("--samplers gated (or gated-rejection) and --gated DIR:THRESHOLD:SCALE go together")
    try: a.band_settings = [(r, float(al), float(sc), *(int(v) for v in b.split('-'))) for r, al, sc, b in (s.rsplit(':', 3) for s in a.band)]
    except ValueError: p.error(f'--band: each is RULE:ALPHA:SCALE:LO-HI, got {a.band}')
    if any((r != 'cp' and not Path(r).is_dir()) or not 0 < al <= 0.5 or sc < 0 or not 0 <= lo <= hi for r, al, sc, lo, hi in a.band_settings):
        p.error(f"--band: RULE 'cp' or an existing folder, ALPHA in (0, 0.5], SCALE >= 0, 0 <= LO <= HI, got {a.band}")
    if ('band' in a.samplers) != bool(a.band): p.error("--samplers band and --band RULE:ALPHA:SCALE:LO-HI go together")
    if any(not -1 < c < 1 for c in a.reject_at): p.error(f'--reject-at: each COSINE in (-1, 1), got {a.reject_at}')
    if any(not 0 <= o <= 10 for o in a.oversample): p.error(f'--oversample: each X in [0, 10], got {a.oversample}')
    if a.time_rounds and 'ddim' not in a.samplers: p.error('--time-rounds times each sampler against plain DDIM: add ddim to --samplers')
    if a.reject_at and not {'rejection', 'cp-rejection', 'gated-rejection'} & set(a.samplers): p.error("--reject-at needs --samplers rejection, cp-rejection or gated-rejection")


class TimeBand:
    "A guidance object that acts only at timesteps lo <= t <= hi (no classifier call outside): a t-dependent alpha and scale."
    def __init__(self, guide, lo: int, hi: int):
        self.guide, self.classifier, self.lo, self.hi, self.active = guide, guide.classifier, lo, hi, False

    def __call__(self, eps, x, t, abar_t):
        self.active = self.lo <= int(t) <= self.hi
        return self.guide(eps, x, t, abar_t) if self.active else eps

    @property
    def pushed(self): return self.guide.pushed if self.active else None


def _rejection_tail(cosine, oversample: float) -> str:
    "What a rejection sampler's name adds: its line (when not the copy line) and its spare share (when any)."
    return (f' at cosine {cosine:g}' if cosine else '') + (f', {oversample:.0%} spare' if oversample else '')


def gated_label(dirs: str, threshold: float, scale: float, t_max, latch: bool = False) -> str:
    "A --gated sampler's name in the records: its classifiers, threshold, push scale, gate window and latch."
    nets = '+'.join(Path(x).parent.name + '/' + Path(x).name for x in dirs.split('+'))
    return f"x0_hat gate {nets} > {threshold:g}, CPSample push s={scale:g}" + (f", gate at t <= {t_max}" if t_max is not None else '') + (', latched' if latch else '')


def run_frontier(a, env):
    import functools
    import torch
    from cpsample_nb.data import heldout_threshold, load_fashion_mnist, nn_cosine
    from cpsample_nb.attacks import nn_membership_attack
    from cpsample_nb.evaluation import bootstrap_interval, wilson_interval
    from cpsample_nb.quality import FrechetDistance, GaussianStats, fd_fmnist_classifier, frechet_distance
    from cpsample_nb.experiments import sample_in_batches
    from cpsample_nb.guidance import SETTINGS, CPGuidance, GatedGuidance, X0Guidance, classifier_gate, x0_bound_gate
    from cpsample_nb.sampler import amg_sample, cpsample, guided_ddim, plain_ddim, rejection_sample
    den, clf = load_pair(a.pair, {})
    S, (test, _) = den.subset.images, load_fashion_mnist('test', 16)
    thr = heldout_threshold(S, test)
    nonmembers = test[torch.randperm(len(test), generator=torch.Generator().manual_seed(1))[:len(S)]]
    quality = {'fd_fmnist_classifier': fd_fmnist_classifier(test, Shipped.quality_classifier()), 'frechet_pixel_pca32': FrechetDistance.pixel_pca(test, 32)}
    cp = SETTINGS[a.pair]
    kw = dict(num_inference_steps=a.steps)
    def is_copy(x): return nn_cosine(x, S) > thr
    samplers = {}
    rejections = [(c, rej, o) for c, rej in ([(c, lambda x, c=c: nn_cosine(x, S) > c) for c in a.reject_at] or [(None, is_copy)]) for o in a.oversample]
    def add_rejection(prefix: str, sampler=None):  # one sampler per (line, spare share): `sampler` (default plain DDIM), redrawing what it makes above the line
        for c, rej, o in rejections:
            samplers[prefix + _rejection_tail(c, o)] = lambda b, g, rej=rej, o=o: rejection_sample(
                den.unet, den.scheduler, rej, batch_size=b, generator=g, oversample=o, sampler=sampler, **kw).images
    gates = {d: classifier_gate([pair_classifier(a.pair, {a.pair: x}) for x in d.split('+')], 'x0_hat') for d, _, _ in a.gated_settings}  # several: their confidences multiply
    for name in a.samplers:
        if name == 'ddim': samplers['plain DDIM'] = lambda b, g: plain_ddim(den.unet, den.scheduler, batch_size=b, generator=g, **kw)
        if name == 'cpsample': samplers[f"CPSample a={cp['alpha']:g} s={cp['scale']:g}"] = lambda b, g: cpsample(den.unet, den.scheduler, clf, batch_size=b, generator=g, alpha=cp['alpha'], scale=cp['scale'], **kw)
        if name == 'rejection': add_rejection('rejection')
        if name == 'cp-rejection':  # CPSample, then redraw the copies it still makes (keeps S at sampling time, as rejection does)
            add_rejection(f"CPSample a={cp['alpha']:g} s={cp['scale']:g} + rejection", functools.partial(cpsample, classifier=clf, alpha=cp['alpha'], scale=cp['scale']))
        if name == 'amg':
            for t, sc in a.amg_settings:
                samplers[f'AMG thr={t:g} s={sc:g}' + (', gradient through the denoiser' if a.amg_through_denoiser else '')] = lambda b, g, t=t, sc=sc: amg_sample(
                    den.unet, den.scheduler, S, batch_size=b, generator=g, threshold=t, scale=sc, through_denoiser=a.amg_through_denoiser, **kw)
        if name == 'bound':
            for t, sc in a.bound_settings:
                samplers[f'bound gate thr={t:g}, CPSample push s={sc:g}'] = lambda b, g, t=t, sc=sc: guided_ddim(
                    den.unet, den.scheduler, GatedGuidance(clf, x0_bound_gate(S), t, scale=sc, tau=cp['tau']), batch_size=b, generator=g, **kw)
        if name == 'x0':
            for d, al, sc in a.x0_settings:
                samplers[f'x0_hat rule {Path(d).name} a={al:g} s={sc:g}'] = lambda b, g, c=pair_classifier(a.pair, {a.pair: d}), al=al, sc=sc: guided_ddim(
                    den.unet, den.scheduler, X0Guidance(c, al, sc, cp['tau']), batch_size=b, generator=g, **kw)
        if name == 'gated':
            for d, th, sc in a.gated_settings:
                samplers[gated_label(d, th, sc, a.gate_t_max, a.gate_latch)] = lambda b, g, gate=gates[d], th=th, sc=sc: guided_ddim(
                    den.unet, den.scheduler, GatedGuidance(clf, gate, th, scale=sc, tau=cp['tau'], t_max=a.gate_t_max, latch=a.gate_latch), batch_size=b, generator=g, **kw)
        if name == 'gated-rejection':  # the gated push, then redraw the copies it still makes (keeps S at sampling time)
            for d, th, sc in a.gated_settings:  # one guidance object per setting: with keep=False it carries nothing from batch to batch
                add_rejection(gated_label(d, th, sc, a.gate_t_max, a.gate_latch) + ' + rejection',
                              functools.partial(guided_ddim, guide=GatedGuidance(clf, gates[d], th, scale=sc, tau=cp['tau'], keep=False, t_max=a.gate_t_max, latch=a.gate_latch)))
        if name == 'band':
            for r, al, sc, lo, hi in a.band_settings:
                guide = (lambda c=clf, al=al, sc=sc: CPGuidance(c, al, sc, cp['tau'])) if r == 'cp' else (lambda c=pair_classifier(a.pair, {a.pair: r}), al=al, sc=sc: X0Guidance(c, al, sc, cp['tau']))
                samplers[f"{'published' if r == 'cp' else 'x0_hat ' + Path(r).name} rule a={al:g} s={sc:g} only at t {lo}-{hi}"] = lambda b, g, guide=guide, lo=lo, hi=hi: guided_ddim(
                    den.unet, den.scheduler, TimeBand(guide(), lo, hi), batch_size=b, generator=g, **kw)
    for fn in samplers.values(): fn(2, torch.Generator().manual_seed(10**6))  # warm-up: first calls pay one-off costs
    rows, base = [], None
    for name, fn in progress(samplers.items(), 'samplers', total=len(samplers)):
        t0 = time.perf_counter()
        x = torch.cat(sample_in_batches(lambda batch_size, generator: fn(batch_size, generator), a.n, a.batch, a.seed, 'cpu', name))
        wall = time.perf_counter() - t0
        base = base or wall
        cos, idx = nn_cosine(x, S, return_index=True)
        k = int((cos > thr).sum())
        att = nn_membership_attack(x, S, nonmembers, n_boot=a.boot)
        row = {'sampler': name, 'n': len(x), 'copies': k / len(x), 'copies_ci': wilson_interval(k, len(x)),
               'nn_cosine': [round(float(v), 7) for v in cos], 'nn_index': idx.tolist(),  # per sample in noise order (rejection rows: the kept ones in the order drawn, so not paired with the noise)
               'mia_auc': att.auc, 'mia_auc_ci': att.auc_ci, 'tpr_at_1pct': att.tpr_1, 'tpr_at_1pct_ci': att.tpr_1_ci, 'tpr_at_0.1pct': att.tpr_01,
               'wall_s': wall, 'time_ratio': wall / base}
        for qn, q in quality.items():
            f = q.features(x)
            row[qn] = frechet_distance(GaussianStats.from_features(f), q.ref)
            row[qn + '_ci'] = bootstrap_interval(lambda ff: frechet_distance(GaussianStats.from_features(ff), q.ref), f, n_boot=a.boot)
        rows.append(row)
        print(f"{name}: copies {row['copies']:.2%} [{row['copies_ci'][0]:.2%}-{row['copies_ci'][1]:.2%}], MIA AUC {att.auc:.3f} "
              f"[{att.auc_ci[0]:.3f}-{att.auc_ci[1]:.3f}], TPR@1% {att.tpr_1:.3f}, fd {row['fd_fmnist_classifier']:.2f}, "
              f"pca {row['frechet_pixel_pca32']:.2f}, time x{row['time_ratio']:.2f}", flush=True)
    if a.time_rounds:
        times = interleaved_times(samplers, a.batch, a.time_rounds, a.seed)
        for row in rows:
            r = [w / d for w, d in zip(times[row['sampler']], times['plain DDIM'])]
            row |= {'round_s': times[row['sampler']], 'round_ratio_median': statistics.median(r), 'round_ratio_range': [min(r), max(r)]}
            print(f"{row['sampler']}: x{row['round_ratio_median']:.3f} [{min(r):.3f}-{max(r):.3f}] over {a.time_rounds} interleaved rounds of {a.batch}", flush=True)
    return {'pair': a.pair, 'threshold': thr, 'members': len(S), 'nonmembers': len(nonmembers), 'rows': rows}


def interleaved_times(samplers: dict, batch: int, rounds: int, seed: int) -> dict:
    "name -> seconds of each round: every sampler draws `batch` images from round r's noise (seed + r), in rotating order."
    import torch
    from cpsample_nb.perf import rotations
    times = {k: [] for k in samplers}
    for r, order in enumerate(progress(rotations(list(samplers), rounds), 'timed rounds', total=rounds)):
        for k in order:
            t0 = time.perf_counter(); samplers[k](batch, torch.Generator().manual_seed(seed + r)); times[k].append(time.perf_counter() - t0)
    return times


# ---------------------------------------------------------------------------------------------------------------------
# frontier-plot (issue 24 item 4's figure, from frontier records)
# ---------------------------------------------------------------------------------------------------------------------

FRONTIER_PLOT_HELP = """Draws the frontier from `frontier` records (no sampling: seconds): for every sampler row, copies against the
sample-only membership AUC and against the learned quality measure (fd_fmnist_classifier over plain DDIM's of the
reference record), each with its 95% interval. The rows must come from the same noise and sample size (the records'
--n and --seed agree, or the command refuses); a sampler named in several records is drawn once, from the first.
Writes the PNG (--png) and, as every sub-command, a JSON record of the points drawn."""

FRONTIER_DEFAULT = ['frontier.json', 'frontier_gates.json', 'frontier_x0.json', 'frontier_amg094.json', 'frontier_bits3_2000.json',
                    'frontier_rejection.json', 'frontier_bits3_tmax.json', 'frontier_reject_at.json', 'frontier_bits3_tmax_013.json']


def add_frontier_plot(p):
    p.add_argument('--records', nargs='+', type=Path, default=[REPORTS / f for f in FRONTIER_DEFAULT], metavar='RECORD.json',
                   help='frontier records; the first holds the plain DDIM row every ratio is taken against (default: the 2,000-image records of reports/frontier.md)')
    p.add_argument('--png', type=Path, default=REPORTS / 'frontier.png', help='the figure (default: %(default)s)')
    add_common(p, threads=None)


def check_frontier_plot(p, a):
    recs = []
    for f in a.records:
        if not f.is_file(): p.error(f'--records: {f} is not a file')
        r = json.loads(f.read_text())
        if r.get('subcommand') != 'frontier': p.error(f"--records: {f} is a {r.get('subcommand')!r} record, not a 'frontier' one")
        recs.append(r)
    key = {(r['settings']['n'], r['settings']['seed'], r['settings']['steps']) for r in recs}
    if len(key) > 1: p.error(f'--records: the records come from different noise or sizes (n, seed, steps): {sorted(key)}')
    if not any(row['sampler'] == 'plain DDIM' for row in recs[0]['results']['rows']): p.error(f'--records: {a.records[0]} has no plain DDIM row')
    a.loaded = recs


def _frontier_label(name: str) -> str:
    "A short legend label for a frontier row (distinct rows, distinct labels)."
    name, rej, at = name.partition(' + rejection')
    line, _, spare = at.partition(', ')
    tail = ((' + rejection below cosine ' + line.split()[-1] if 'cosine' in line else ' + rejection of its copies') + (f', {spare}' if spare else '')) if rej else ''
    if name.startswith('x0_hat gate') and '+' in name.split(' > ')[0]:
        window = ', gate at t <= ' + name.rsplit('t <= ', 1)[1] if 'gate at t <=' in name else ''
        return f"label bits (3) gate > {name.rsplit('> ', 1)[1].split(',')[0]}, push s 10{window}{tail}"
    if name.startswith('x0_hat rule'): return 'x0_hat rule (hardneg) a 0.1 s 50' + tail
    if name == 'CPSample a=0.01 s=10' and rej: return 'CPSample (a 0.01, s 10)' + tail
    return name.replace('CPSample a=0.01 s=10', 'CPSample, published rule (a 0.01, s 10)').replace('thr=', '').replace(', CPSample push s=10', ' + push s 10') + tail


def run_frontier_plot(a, env):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    loaded = vars(a).pop('loaded')  # the records read by the check (not settings: the record keeps their paths)
    rows, seen = [], set()
    for r in loaded:
        for row in r['results']['rows']:
            if row['sampler'] not in seen: seen.add(row['sampler']); rows.append(row)
    ref = next(row for row in loaded[0]['results']['rows'] if row['sampler'] == 'plain DDIM')
    fig, axes = plt.subplots(1, 2, figsize=(14.5, 4.8), sharey=True)
    points = []
    for i, row in enumerate(rows):
        c = 100 * row['copies']; lo, hi = (100 * v for v in row['copies_ci'])
        q, (qlo, qhi) = row['fd_fmnist_classifier'] / ref['fd_fmnist_classifier'], (v / ref['fd_fmnist_classifier'] for v in row['fd_fmnist_classifier_ci'])
        m, (mlo, mhi) = row['mia_auc'], row['mia_auc_ci']
        kw = dict(fmt='osD^v<>ph*X'[i % 11], capsize=3, color=plt.get_cmap('tab20')(i % 20), label=_frontier_label(row['sampler']))
        axes[0].errorbar(m, c, xerr=[[m - mlo], [mhi - m]], yerr=[[c - lo], [hi - c]], **kw)
        axes[1].errorbar(q, c, xerr=[[max(q - qlo, 0)], [max(qhi - q, 0)]], yerr=[[c - lo], [hi - c]], **kw)
        points.append({'sampler': row['sampler'], 'copies_pct': c, 'mia_auc': m, 'fd_ratio': q, 'pixel_pca_ratio': row['frechet_pixel_pca32'] / ref['frechet_pixel_pca32']})
    axes[0].set(xlabel='sample-only membership AUC (S vs test images)', ylabel='copies of S (symlog scale)')
    axes[0].set_yscale('symlog', linthresh=0.1)
    axes[0].axvline(0.6, ls=':', c='gray'); axes[0].axhline(0.1, ls=':', c='gray')
    axes[1].set(xlabel='learned Frechet distance / plain DDIM (log scale)', xscale='log')
    axes[1].xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f'{v:g}x'))
    axes[1].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter()); axes[1].set_xticks([0.8, 1, 1.2, 1.5, 2, 3, 5])
    axes[0].yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f'{v:g}%'))
    axes[0].set_yticks([0, 0.1, 0.3, 1, 3, 10])
    axes[1].axvline(1.2, ls=':', c='gray'); axes[1].axhline(0.1, ls=':', c='gray')
    for ax in axes: ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc='center left', bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(f"Fashion-MNIST frontier, {ref['n']} images per sampler, same noise (dotted: issue 24's goals)", fontsize=10)
    fig.tight_layout(); a.png.parent.mkdir(parents=True, exist_ok=True); fig.savefig(a.png, dpi=90, bbox_inches='tight'); plt.close(fig)
    for pt in points: print(f"{pt['sampler']}: {pt['copies_pct']:.2f}% copies, AUC {pt['mia_auc']:.3f}, fd x{pt['fd_ratio']:.2f}, pixel PCA x{pt['pixel_pca_ratio']:.2f}")
    print(f'wrote {a.png}')
    return {'png': str(a.png), 'reference': ref['sampler'], 'points': points}


# ---------------------------------------------------------------------------------------------------------------------
# side (issue 25, item 3: SIDE at full size, seeds, pooled counts, Fisher tests)
# ---------------------------------------------------------------------------------------------------------------------

SIDE_HELP = """`cpsample_nb.side.side_study`: the whole SIDE attack (N_syn samples, k-means, the cohesion filter, SIDE's and
Cond's classifiers, then --n-per-arm samples per arm: UnCond, SIDE at every --lambdas, Cond at --cond-lambdas) once
per --seeds, against the shipped --model unprotected and behind CPSample at guidance.SETTINGS of its data. Reports
per band AMS (Wilson 95%) and UMS, per seed and pooled, and one-sided Fisher tests: SIDE against UnCond, and every
arm unprotected against the same arm through CPSample. Stage files go to --work (a rerun resumes from them);
the figure goes beside the JSON."""


def add_side(p):
    p.add_argument('--model', default='fashion', choices=['fashion', 'faces'], help='shipped denoiser and its classifier (default: %(default)s)')
    p.add_argument('--n-per-arm', type=positive_int, default=1000, help='samples per arm and seed (default: %(default)s)')
    p.add_argument('--seeds', type=nonneg_int, nargs='+', default=[0, 1, 2], help='one whole attack per seed (default: 0 1 2)')
    p.add_argument('--lambdas', type=float, nargs='+', default=[1.0, 3.0, 10.0, 30.0, 50.0], help="SIDE's guidance weights (default: 1 3 10 30 50)")
    p.add_argument('--cond-lambdas', type=float, nargs='+', default=[1.0], help="the Cond baseline's guidance weights (default: 1)")
    p.add_argument('--n-syn', type=positive_int, default=1000, help='samples that build the surrogate (default: %(default)s)')
    p.add_argument('--steps', type=positive_int, default=25, help='DDIM steps everywhere (default: %(default)s)')
    p.add_argument('--clf-steps', type=positive_int, default=1000, help="training steps of SIDE's and Cond's classifiers (default: %(default)s)")
    p.add_argument('--work', type=Path, default=None, help='stage files (default: runs/side_MODEL)')
    add_common(p, threads=1, device='cpu')


def check_side(p, a):
    if any(not 0 < v < math.inf for v in a.lambdas + a.cond_lambdas): p.error('--lambdas and --cond-lambdas must be finite and > 0')
    if a.n_syn < 100: p.error(f'--n-syn must be at least 100 (K = 100 clusters), got {a.n_syn}')


def run_side(a, env):
    import shutil
    from cpsample_nb.side_study import side_study
    work = a.work or ROOT / 'runs' / f'side_{a.model}'
    res = side_study(a.model, 'shipped', work, n_per_arm=a.n_per_arm, seeds=a.seeds, lambdas=a.lambdas, cond_lambdas=a.cond_lambdas,
                     n_syn=a.n_syn, steps=a.steps, clf_steps=a.clf_steps, device=a.device, log=lambda s: print(s, flush=True))
    fig = (Path(a.out) if a.out else REPORTS / f'side_{a.model}.json').with_suffix('.png')
    fig.parent.mkdir(parents=True, exist_ok=True); shutil.copy(work / 'side_study.png', fig)
    for r in res['tests']:
        if r['seed'] == 'pooled' and r['band'] != '>= low':
            print(f"{r['target']:>22} {r['test']:<40} {r['band']:<9} {r['k1']:>5}/{r['n1']} vs {r['k2']:>5}/{r['n2']}  p = {r['p']:.3g}")
    return res | {'figure': str(fig.relative_to(ROOT) if fig.is_relative_to(ROOT) else fig), 'work': str(work)}


# ---------------------------------------------------------------------------------------------------------------------
# attacks (issue 25: the attacker x sampler table)
# ---------------------------------------------------------------------------------------------------------------------

ATTACKS_HELP = """The attacker x sampler table on the shipped Fashion-MNIST models. (a) The fine-tuned denoiser: members are its
300-image protected subset S, non-members as many test images; (b) the pretrained denoiser it was fine-tuned from:
--n-pretrained of its training images (S left out) against as many test images. The 10,000 test images are split once
(seed 1234): the first half calibrates the copy threshold (rejection sampling's test), non-members come only from the
second half. Samplers: plain DDIM, rejection sampling (redraw every copy of S), CPSample's published rule
(guidance.SETTINGS['fashion']), the default of `cpsample sample` when it differs from that, and AMG (which keeps S).
White-box attacks (Algorithm 1's loss, SecMI, PIA) query the eps each sampler uses (rejection sampling leaves eps
as it is: the attacker sees the plain denoiser); the sample-only attack scores each candidate by its nearest cosine
to --n released samples, in pixels and in the quality classifier's features. Released samples are cached in
--samples (safetensors; delete them to redraw). AUC and TPR at 1% / 0.1% FPR with bootstrap 95% intervals;
one ROC figure per attacker beside the JSON; the run time of each attack."""

ATTACK_SAMPLERS = ('ddim', 'rejection', 'cpsample', 'cp-rejection', 'default', 'amg')


def add_attacks(p):
    p.add_argument('--n', type=int_at_least(2), default=2000, help='released samples per sampler for the sample-only attack (default: %(default)s)')
    p.add_argument('--n-pretrained', type=int_at_least(2), default=1000, help='members (and as many non-members) on the pretrained model (default: %(default)s)')
    p.add_argument('--models', nargs='+', default=['finetuned', 'pretrained'], choices=['finetuned', 'pretrained'])
    p.add_argument('--samplers', nargs='+', default=list(ATTACK_SAMPLERS), choices=ATTACK_SAMPLERS)
    p.add_argument('--attacks', nargs='+', default=['loss', 'secmi', 'pia', 'pia-2sided', 'nn-pixels', 'nn-learned'],
                   choices=['loss', 'secmi', 'pia', 'pia-2sided', 'nn-pixels', 'nn-learned'],
                   help="pia-2sided: PIA's distance read both ways, |log d - its median over 300 calibration test images| (default: all)")
    p.add_argument('--amg', default='0.95:10', metavar='THRESHOLD:SCALE', help="AMG's setting (default: %(default)s)")
    p.add_argument('--steps', type=positive_int, default=50, help='DDIM steps of the released samples (default: %(default)s)')
    p.add_argument('--batch', type=positive_int, default=250, help='images per sampling batch (default: %(default)s)')
    p.add_argument('--seed', type=nonneg_int, default=0)
    p.add_argument('--boot', type=positive_int, default=500, help='bootstrap resamples (default: %(default)s)')
    p.add_argument('--samples', type=Path, default=ROOT / 'runs' / 'attacks', help='folder caching the released samples (default: runs/attacks)')
    add_common(p, threads=1)


def check_attacks(p, a):
    try: a.amg_setting = tuple(float(v) for v in a.amg.split(':'))
    except ValueError: p.error(f'--amg: THRESHOLD:SCALE, got {a.amg!r}')
    if len(a.amg_setting) != 2 or not -1 <= a.amg_setting[0] < 1 or a.amg_setting[1] < 0: p.error(f'--amg: THRESHOLD in [-1, 1), SCALE >= 0, got {a.amg!r}')


def attack_split(seed: int = 1234) -> tuple:
    "The test images split once: (calibration half, evaluation half)."
    import torch
    from cpsample_nb.data import load_fashion_mnist
    test = load_fashion_mnist('test', 16)[0]
    perm = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))
    return test[perm[:len(test) // 2]], test[perm[len(test) // 2:]]


def attack_samplers(den, clf, S, thr: float, a) -> dict:
    "key -> (label, sample(batch_size, generator), guide() or None: the eps_hat an attacker of that sampler queries)."
    import functools
    from cpsample_nb.data import nn_cosine
    from cpsample_nb.experiments import DATA_SETTINGS, DEMO_SETTINGS
    from cpsample_nb.guidance import SETTINGS, AMGGuidance, CPGuidance
    from cpsample_nb.sampler import cpsample, guided_ddim, plain_ddim, rejection_sample
    u, sch, kw = den.unet, den.scheduler, dict(num_inference_steps=a.steps)
    cp, dflt = SETTINGS['fashion'], DEMO_SETTINGS | DATA_SETTINGS['fashion']
    amg_t, amg_s = a.amg_setting
    out = {'ddim': ('plain DDIM', lambda b, g: plain_ddim(u, sch, batch_size=b, generator=g, **kw), None),
           'rejection': ('rejection sampling', lambda b, g: rejection_sample(u, sch, lambda x: nn_cosine(x, S) > thr, batch_size=b, generator=g, **kw).images, None),
           'cpsample': (f"CPSample a={cp['alpha']:g} s={cp['scale']:g}", lambda b, g: cpsample(u, sch, clf, batch_size=b, generator=g, alpha=cp['alpha'], scale=cp['scale'], tau=cp['tau'], **kw),
                        lambda: CPGuidance(clf, cp['alpha'], cp['scale'], cp['tau'], check_first=False, keep=False)),
           'cp-rejection': (f"CPSample a={cp['alpha']:g} s={cp['scale']:g} + rejection", lambda b, g: rejection_sample(
                                u, sch, lambda x: nn_cosine(x, S) > thr, batch_size=b, generator=g, sampler=functools.partial(cpsample, classifier=clf, alpha=cp['alpha'], scale=cp['scale'], tau=cp['tau']), **kw).images,
                            lambda: CPGuidance(clf, cp['alpha'], cp['scale'], cp['tau'], check_first=False, keep=False)),  # it samples with CPSample's eps; rejection only drops outputs
           'amg': (f'AMG thr={amg_t:g} s={amg_s:g}', lambda b, g: guided_ddim(u, sch, AMGGuidance(S, amg_t, amg_s, keep=False), batch_size=b, generator=g, **kw),
                   lambda: AMGGuidance(S, amg_t, amg_s, keep=False))}
    if (dflt['alpha'], dflt['scale']) != (cp['alpha'], cp['scale']):
        out['default'] = (f"default a={dflt['alpha']:g} s={dflt['scale']:g}", lambda b, g: cpsample(u, sch, clf, batch_size=b, generator=g, alpha=dflt['alpha'], scale=dflt['scale'], tau=dflt['tau'], **kw),
                          lambda: CPGuidance(clf, dflt['alpha'], dflt['scale'], dflt['tau'], check_first=False, keep=False))
    return {k: out[k] for k in a.samplers if k in out}


def released_samples(model: str, key: str, fn, a) -> tuple:
    "(samples, wall seconds or None when read from the cache) of sampler `key` on `model`, drawn batch by batch from seeds --seed + i."
    import torch
    from cpsample_nb.experiments import load_samples, sample_in_batches, save_samples
    path = Path(a.samples) / f'{model}_{key}_n{a.n}_steps{a.steps}_seed{a.seed}_batch{a.batch}.safetensors'
    if path.exists(): return load_samples(path)[0], None
    t0 = time.perf_counter()
    x = torch.cat(sample_in_batches(lambda batch_size, generator: fn(batch_size, generator), a.n, a.batch, a.seed, 'cpu', f'{model} {key}'))
    wall = time.perf_counter() - t0
    save_samples(x, path, {'model': model, 'sampler': key, 'n': a.n, 'steps': a.steps, 'seed': a.seed, 'batch': a.batch, 'wall_s': wall})
    return x, wall


def attack_models(a) -> dict:
    "model -> (denoiser, classifier, S, members, non-members, copy threshold)."
    import torch
    from cpsample_nb.data import heldout_threshold, load_fashion_mnist
    from cpsample_nb.models import load_shipped_classifier, load_shipped_denoiser
    calib, evaluation = attack_split()
    clf, fine = load_shipped_classifier('fashion')[0], load_shipped_denoiser('fashion')
    out = {}
    for m in a.models:
        den = load_shipped_denoiser('fashion' if m == 'finetuned' else 'fashion_pretrained')
        S = fine.subset.images
        if m == 'finetuned': members = S
        else:
            full = load_fashion_mnist('train', 16)[0]
            keep = torch.ones(len(full), dtype=torch.bool); keep[fine.subset.indices] = False
            rest = full[keep]
            members = rest[torch.randperm(len(rest), generator=torch.Generator().manual_seed(a.seed))[:a.n_pretrained]]
        non = evaluation[torch.randperm(len(evaluation), generator=torch.Generator().manual_seed(a.seed + 1))[:len(members)]]
        out[m] = (den, clf, S, members, non, heldout_threshold(S, calib), calib[:300])
    return out


WHITE_BOX = {'loss': 'Algorithm 1 (loss, t 100)', 'secmi': 'SecMI (t 100, k 10)', 'pia': 'PIA (t 200, l4)',
             'pia-2sided': 'PIA read both ways (t 200, l4)'}
SAMPLE_ONLY = {'nn-pixels': 'sample-only NN, pixels', 'nn-learned': 'sample-only NN, learned features'}


def _row(model: str, key: str, label: str, attack: str, r, **extra) -> dict:
    rnd = lambda v: [round(float(x), 5) for x in v]
    return {'model': model, 'sampler': key, 'sampler_label': label, 'attack': attack, 'members': r.n_members, 'nonmembers': r.n_nonmembers,
            'auc': r.auc, 'auc_ci': list(r.auc_ci), 'tpr_at_1pct': r.tpr_1, 'tpr_at_1pct_ci': list(r.tpr_1_ci),
            'tpr_at_0.1pct': r.tpr_01, 'tpr_at_0.1pct_ci': list(r.tpr_01_ci), 'seconds': r.seconds, 'details': r.details,
            'roc_fpr': rnd(r.fpr), 'roc_tpr': rnd(r.tpr), **extra}


def two_sided_pia(eps, scheduler, members, nonmembers, *, reference, name, n_boot, seed):
    "PIA read both ways: score = |log d - median log d of `reference` (held-out images the attacker holds)|, for a guided eps that pushes members out."
    import time as _t
    from cpsample_nb.attacks import attack_result, pia_scores
    t0 = _t.perf_counter()
    med = pia_scores(eps, scheduler, reference).log().median()
    score = lambda x: (pia_scores(eps, scheduler, x).log() - med).abs()
    sm, sn = score(members), score(nonmembers)
    return attack_result(name, sm, sn, n_boot=n_boot, seed=seed, seconds=_t.perf_counter() - t0, attack='pia-2sided', reference=len(reference))


def run_attacks(a, env):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from cpsample_nb.attacks import loss_attack, nn_membership_attack, pia_attack, plot_roc, sampler_eps, secmi_attack
    from cpsample_nb.data import pixel_features
    from cpsample_nb.models import load_quality_classifier
    from cpsample_nb.quality import fmnist_features
    features = {'nn-pixels': pixel_features, 'nn-learned': fmnist_features(load_quality_classifier()[0])}
    white = {'loss': loss_attack, 'secmi': secmi_attack, 'pia': pia_attack, 'pia-2sided': two_sided_pia}
    rows, curves, sampling, models = [], {}, {}, {}
    for m, (den, clf, S, members, non, thr, calib) in attack_models(a).items():
        models[m] = {'members': len(members), 'nonmembers': len(non), 'copy_threshold': thr,
                     'member_set': 'S, the 300 protected images' if m == 'finetuned' else f'{len(members)} training images (S left out)'}
        for key, (label, fn, guide) in attack_samplers(den, clf, S, thr, a).items():
            eps = sampler_eps(den.unet, den.scheduler, guide() if guide else None)
            for att in [x for x in a.attacks if x in white]:
                if guide is None and key != 'ddim':  # rejection sampling: the attacker queries the plain denoiser, DDIM's numbers
                    same = next((r for r in rows if r['model'] == m and r['sampler'] == 'ddim' and r['attack'] == att), None)
                    if same:
                        rows.append(same | {'sampler': key, 'sampler_label': label, 'same_as': 'ddim', 'seconds': None})
                        print(f"{m:10s} {label:24s} {att:10s} the plain denoiser's eps: plain DDIM's numbers", flush=True); continue
                kw = {'reference': calib} if att == 'pia-2sided' else {}
                r = white[att](eps, den.scheduler, members, non, name=label, n_boot=a.boot, seed=a.seed, **kw)
                rows.append(_row(m, key, label, att, r)); curves.setdefault((att, m), []).append(r)
                print(f"{m:10s} {label:24s} {att:10s} AUC {r.auc:.3f} [{r.auc_ci[0]:.3f}-{r.auc_ci[1]:.3f}]  TPR@1% {r.tpr_1:.3f} [{r.tpr_1_ci[0]:.3f}-{r.tpr_1_ci[1]:.3f}]  TPR@0.1% {r.tpr_01:.3f}  {r.seconds:.1f} s", flush=True)
            nn = [x for x in a.attacks if x in SAMPLE_ONLY]
            if not nn: continue
            x, wall = released_samples(m, key, fn, a)
            sampling[f'{m} {key}'] = wall
            for att in nn:
                r = nn_membership_attack(x, members, non, features[att], name=label, n_boot=a.boot, seed=a.seed)
                rows.append(_row(m, key, label, att, r, released=len(x))); curves.setdefault((att, m), []).append(r)
                print(f"{m:10s} {label:24s} {att:10s} AUC {r.auc:.3f} [{r.auc_ci[0]:.3f}-{r.auc_ci[1]:.3f}]  TPR@1% {r.tpr_1:.3f} [{r.tpr_1_ci[0]:.3f}-{r.tpr_1_ci[1]:.3f}]  TPR@0.1% {r.tpr_01:.3f}  {r.seconds:.1f} s", flush=True)
    out = Path(a.out) if a.out else REPORTS / 'attacks.json'
    figures = {}
    for att in a.attacks:
        ms = [m for m in a.models if (att, m) in curves]
        if not ms: continue
        fig, axes = plt.subplots(1, len(ms), figsize=(4.8 * len(ms), 4.4), squeeze=False)
        for ax, m in zip(axes[0], ms):
            plot_roc(curves[(att, m)], ax=ax, title=f"{(WHITE_BOX | SAMPLE_ONLY)[att]}: {m} model ({models[m]['members']} vs {models[m]['nonmembers']})")
            ax.title.set_fontsize(8)
        path = out.with_name(f'{out.stem}_{att}.png')
        fig.savefig(path, dpi=80, bbox_inches='tight'); plt.close(fig)
        figures[att] = str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return {'models': models, 'test_split': 'test images split once (seed 1234): 5,000 calibrate the copy threshold, non-members come from the other 5,000',
            'released_per_sampler': a.n, 'sampling_wall_s': sampling, 'rows': rows, 'figures': figures}


# ---------------------------------------------------------------------------------------------------------------------
# protect (issue 26: the wall time of `cpsample protect --quick` as a user types it)
# ---------------------------------------------------------------------------------------------------------------------

PROTECT_HELP = """The user's setup of 29_protect's journey, made once in --work: a nested RGB image folder (train/, with one RGBA
and one grayscale file), heldout/, and a 32x32 RGB DDPMPipeline (150 training steps) saved with diffusers'
save_pretrained. Then `cpsample protect --model my_pipeline --data train --heldout heldout --out protectedK --quick`
as a separate process, --repeats fresh runs and one rerun of the first (which reuses every stage): start-to-exit wall
times, Python start-up and imports included."""


def add_protect(p):
    p.add_argument('--work', type=Path, default=None, help='where the setup and the runs go (default: runs/protect_quick)')
    add_common(p, threads=1, repeats=3, repeats_help='fresh runs')


def check_protect(p, a): pass


def run_protect(a, env):
    import os, shutil, subprocess
    work = a.work or ROOT / 'runs' / 'protect_quick'
    if not (work / 'my_pipeline' / 'model_index.json').exists():  # the user's setup, once
        from cpsample_nb.protect import example_setup
        example_setup(work)
    exe = Path(sys.executable).parent / 'cpsample'
    cmd = lambda out: [str(exe), 'protect', '--model', 'my_pipeline', '--data', 'train', '--heldout', 'heldout', '--out', out, '--quick',
                       '--threads', str(a.threads or 1)]
    fresh = []
    for i in range(a.repeats):
        shutil.rmtree(work / f'protected{i}', ignore_errors=True)
        t = time.perf_counter(); subprocess.run(cmd(f'protected{i}'), cwd=work, check=True, capture_output=True, env=os.environ); fresh.append(time.perf_counter() - t)
        print(f'fresh run {i}: {fresh[-1]:.1f} s', flush=True)
    t = time.perf_counter(); subprocess.run(cmd('protected0'), cwd=work, check=True, capture_output=True, env=os.environ); rerun = time.perf_counter() - t
    print(f'rerun (everything reused): {rerun:.1f} s')
    return {'command': ' '.join(['cpsample'] + cmd('protectedK')[1:]), 'fresh_s': fresh, 'rerun_s': rerun, 'work': str(work)}


# ---------------------------------------------------------------------------------------------------------------------
# The entry point
# ---------------------------------------------------------------------------------------------------------------------

COMMANDS = {  # name: (one-line help, the script it replaced); NAME's options, checks, run and long help: `parts(NAME)`
    'overhead': ("CPSample's overhead over plain DDIM on the shipped pairs", 'bench_shipped_overhead.py'),
    'check': ('what the per-step check costs inside sampling, on the shipped pairs', 'bench_check.py'),
    'classifier': ('what the random-label classifier costs next to the denoiser, per network size', 'bench_classifier.py'),
    'nnindex': ('NNIndex (faiss) against a chunked torch matrix product', 'bench_nnindex.py'),
    'sampler': ('CPSample over plain DDIM with a small calibrated random classifier', 'bench_sampler.py'),
    'scaling': ("CPSample's overhead and throughput against batch size and resolution", 'bench_scaling.py'),
    'small-batch': ("native CPU convolutions against oneDNN for the firing samples' pass", 'bench_small_batch.py'),
    'sd-study': ('the Stable Diffusion case study on the shipped mini model (alpha, protected set, non-members)', 'sd_study.py'),
    'gate': ("how well the classifier's confidence predicts that a trajectory ends as a copy (issue 24)", None),
    'frontier': ('copies, sample-only membership attack, quality and time of each sampler from the same noise (issue 24)', None),
    'frontier-plot': ("the frontier's figure from frontier records: copies against membership AUC and quality (issue 24)", None),
    'attacks': ('the attacker x sampler table: Algorithm 1, SecMI, PIA and the sample-only attack on both Fashion-MNIST models (issue 25)', None),
    'side': ('SIDE at full size: seeds, AMS/UMS per band with intervals, Fisher tests against UnCond and plain DDIM (issue 25)', None),
    'protect': ('the wall time of `cpsample protect --quick` on a tiny diffusers pipeline and a nested folder, as a user types it (issue 26)', None),
}


def parts(name: str) -> tuple:
    "(add_NAME, check_NAME, run_NAME, NAME_HELP) of a sub-command: its options, their checks, the run, the long help."
    n = name.replace('-', '_')
    return globals()[f'add_{n}'], globals()[f'check_{n}'], globals()[f'run_{n}'], globals()[f'{n.upper()}_HELP']


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='bench.py', description=__doc__.split('\n')[0],
                                epilog='python benchmarks/bench.py SUBCOMMAND --help: its options')
    sub = p.add_subparsers(dest='command', required=True, metavar='SUBCOMMAND')
    p.commands = {}  # name: its parser (its errors print its own usage)
    for name, (short, old) in COMMANDS.items():
        add, _, _, long = parts(name)
        was = f' (was benchmarks/{old})' if old else ''
        sp = sub.add_parser(name, help=f"{short}{f' (was {old})' if old else ''}", description=f'{short[0].upper()}{short[1:]}{was}.\n\n{long}',
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        add(sp)
        p.commands[name] = sp
    return p


def main(argv=None) -> dict:
    "Parse, check the options, set up (allocator, threads, machine), run the sub-command, write its record; returns the record's results."
    argv = list(sys.argv[1:] if argv is None else argv)
    p = build_parser()
    a = p.parse_args(argv)
    a.argv = argv
    sp = p.commands[a.command]
    check_common(sp, a)
    _, check, run, _ = parts(a.command)
    check(sp, a)
    if not hasattr(a, 'swaps'): a.swaps = {}
    env = setup(a)
    t0 = time.perf_counter()
    results = run(a, env)
    print(f'{a.command}: {time.perf_counter() - t0:.1f} s')
    write_record(a, env, results)
    return results


if __name__ == '__main__':
    main()
