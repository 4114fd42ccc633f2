"""Copy trained models into `cpsample_nb/assets/` so the package ships them.

    python tools/ship_models.py denoiser RUN_DIR [NAME]            # RUN_DIR/model (from `cpsample train-denoiser`)
    python tools/ship_models.py classifier RUN_DIR COMMAND [NAME]  # newest checkpoint of `cpsample train-classifier`

NAME is the asset folder (default: denoiser_faces16 / classifier_faces16).

The classifier's manifest records the data and subset it was trained on (read from RUN_DIR/report.json),
its memorisation at save time and COMMAND, the command line that made RUN_DIR.
Only weights, config, labels and scheduler are copied: optimizer and RNG state stay behind.
"""
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / 'cpsample_nb' / 'assets'


def replace_dir(src_fn, dest: Path):
    "Build the new asset folder next to `dest`, then swap it in (never a half-copied asset)."
    tmp = dest.with_name(dest.name + '.new')
    if tmp.exists(): shutil.rmtree(tmp)
    src_fn(tmp)
    if dest.exists(): shutil.rmtree(dest)
    tmp.rename(dest)
    return dest


def ship_denoiser(run: Path, name: str = 'denoiser_faces16') -> Path:
    model = run / 'model'
    if not (model / 'manifest.json').exists(): raise SystemExit(f"{model} holds no manifest.json: not a finished train-denoiser run")
    def build(tmp):
        shutil.copytree(model, tmp)
        if (run / 'replication.png').exists(): shutil.copy(run / 'replication.png', tmp / 'replication.png')
    return replace_dir(build, ASSETS / name)


def ship_classifier(run: Path, command: str, name: str = 'classifier_faces16') -> Path:
    from cpsample_nb.training import latest_checkpoint
    from cpsample_nb.models import classifier_manifest
    ck, report = latest_checkpoint(run), json.loads((run / 'report.json').read_text())
    if ck is None: raise SystemExit(f"no classifier checkpoint in {run}")
    state = json.loads((ck / 'train' / 'state.json').read_text())
    sub = report.get('subset')
    data = classifier_manifest(run)['data'] | {  # name, size, n and indices, read from report.json as the demo reads them
        'subset_seed': sub['seed'] if sub else None,
        'order': 'the protected subset order (protected_subset(training_images(name), n, subset_seed))' if sub else 'training_images(name) order'}
    what = {'faces': 'LFW faces', 'fashion': 'Fashion-MNIST training images', 'digits': 'sklearn digits'}.get(data['name'], f"images of {data['name']}")
    manifest = {'what': f"random-label time-conditioned classifier (TimeClassifier) for {data['n']} {what} at {data['size']}x{data['size']}, EMA weights",
                'data': data, 'labels': 'labels.json (Bernoulli(0.5), label seed 0)', 'parameters': report['parameters'],
                'steps': report['step'], 'train_wall_s': report['seconds'], 'train_config': state.get('config'),
                'memorisation_at_save': report['final'], 'command': command,
                'copied_from': f"{ck.name} (weights, config, labels, scheduler; optimizer and RNG state left out)"}
    def build(tmp):
        tmp.mkdir(parents=True)
        for f in ('config.json', 'diffusion_pytorch_model.safetensors', 'labels.json'): shutil.copy(ck / f, tmp / f)
        shutil.copytree(ck / 'scheduler', tmp / 'scheduler')
        if (run / 'memorisation.png').exists(): shutil.copy(run / 'memorisation.png', tmp / 'memorisation.png')
        (tmp / 'manifest.json').write_text(json.dumps(manifest, indent=1))
    return replace_dir(build, ASSETS / name)


if __name__ == '__main__':
    kind, run = sys.argv[1], Path(sys.argv[2])
    if kind == 'denoiser': print(ship_denoiser(run, *sys.argv[3:4]))
    elif kind == 'classifier': print(ship_classifier(run, sys.argv[3], *sys.argv[4:5]))
    else: raise SystemExit(__doc__)
