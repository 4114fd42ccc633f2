"""The `--classifier NAME=DIR` option the shipped-pair benchmarks share (`bench_check.py`, `bench_shipped_overhead.py`).

A benchmark that runs on the shipped denoiser/classifier pairs can time, for pair NAME, the classifier of a
`cpsample train-classifier` output folder DIR instead of the shipped one (e.g. another network trained on the same
protected subset). The scripts import this module from their own folder (`python benchmarks/SCRIPT.py`).
"""
import argparse

from cpsample_nb.classifier import load_classifier
from cpsample_nb.experiments import load_shipped_classifier


def add_classifier_option(p: argparse.ArgumentParser) -> None:
    p.add_argument('--classifier', nargs='+', default=[], metavar='NAME=DIR',
                   help="use this train-classifier folder's classifier instead of the shipped one for pair NAME")


def classifier_swaps(p: argparse.ArgumentParser, a: argparse.Namespace) -> dict:
    "{pair name: folder} from `--classifier`, each name one of `--pairs` (else a parser error naming what was wrong)."
    try: swaps = dict(s.split('=', 1) for s in a.classifier)
    except ValueError: p.error(f"--classifier takes NAME=DIR, got {a.classifier}")
    if set(swaps) - set(a.pairs): p.error(f"--classifier names {sorted(set(swaps) - set(a.pairs))}, which are not among --pairs {a.pairs}")
    return swaps


def pair_classifier(name: str, swaps: dict, device='cpu'):
    "The classifier pair `name` runs with: the folder `swaps` gives for it, or the shipped one."
    return load_classifier(swaps[name], device=device)[0] if name in swaps else load_shipped_classifier(name, device)[0]
