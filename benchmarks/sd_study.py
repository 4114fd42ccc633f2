"""Does a smaller alpha, or a larger protected set, leave ordinary captions alone? The case study of 09_stable_diffusion on
the shipped mini text-to-image model (prints tables; asserts nothing; one thread).

    python benchmarks/sd_study.py EXTRA CLASSIFIER_STEPS ALPHA:S [ALPHA:S ...] [--nonmembers N] [--nonmember-weight W]

EXTRA: ordinary training images of the cases' classes protected beside the four case images. --nonmembers N: N more
ordinary training images of those classes (outside the protected set) that the classifier is trained toward p = 1/2
(`train_classifier(nonmembers=...)`, an extension of the paper). Writes outputs/sd_study_extraEXTRA[_nmN].json.
"""
import argparse, json, time
from pathlib import Path
import torch
torch.set_num_threads(1)
from cpsample_nb.stable_diffusion import *
from cpsample_nb.stable_diffusion import protected_images, nonmember_images
from cpsample_nb.classifier import TrainConfig
from cpsample_nb.data import load_fashion_mnist, heldout_threshold
from cpsample_nb.evaluation import load_quality_classifier, format_table
ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument('extra', type=int); ap.add_argument('steps', type=int); ap.add_argument('settings', nargs='+', help='ALPHA:S')
ap.add_argument('--nonmembers', type=int, default=0); ap.add_argument('--nonmember-weight', type=float, default=1.0)
args = ap.parse_args()
qual = load_quality_classifier()[0]
folder = shipped_t2i_folder(); man = json.loads((folder / 'manifest.json').read_text())
data = captioned_fashion(*load_fashion_mnist('train', 16), n=man['data']['n'], copies=man['data']['copies'], seed=man['data']['seed'])
test_x = load_fashion_mnist('test', 16)[0]
extra, steps, settings = args.extra, args.steps, [tuple(map(float, a.split(':'))) for a in args.settings]
non = nonmember_images(data, args.nonmembers, extra) if args.nonmembers else None
mini = load_t2i(folder)
t0 = time.perf_counter()
res_clf = train_latent_classifier(mini.vae, protected_images(data, extra), mini.scheduler, progress=False, nonmembers=non,
                                  config=TrainConfig(steps=steps, batch_size=50, eval_every=0, checkpoint_every=0, nonmember_weight=args.nonmember_weight))
from cpsample_nb.classifier import MemorisationReport
print(f'latent classifier on {4 + extra} images, {args.nonmembers} non-members: {res_clf.step} steps, {time.perf_counter() - t0:.0f} s;\n',
      MemorisationReport(**res_clf.history[-1]) if res_clf.history else '', flush=True)
pipe = CPSampleSDPipeline(mini.vae, mini.text_encoder, mini.tokenizer, mini.unet, mini.scheduler, classifier=res_clf.model.eval())
pipe.set_progress_bar_config(disable=True)
out = []
for alpha, scale in settings:
    t0 = time.perf_counter(); rows = []
    for c in data.cases:
        target = data.case_image(c); thr = heldout_threshold(target[None], test_x, 0.999)
        for kind, cap in (('original', c.original), ('modified', c.modified), ('ordinary', class_caption(c.label))):
            r, pl, cp = case_study(pipe, cap, target, c.label, range(50), thr, qual, alpha=alpha, scale=scale, guidance_scale=7.5, num_inference_steps=25)
            rows.append({'case': c.name, 'kind': kind, **{k: v for k, v in r.items() if k in ('copy_plain', 'copy_cpsample', 'p_value', 'fire_rate', 'agree_plain', 'agree_cpsample', 'unchanged', 'mean_abs_change')}})
    print(f'\nextra {extra}, alpha {alpha}, s {scale}: {time.perf_counter() - t0:.0f} s'); print(format_table(rows), flush=True)
    out.append({'extra': extra, 'steps': steps, 'nonmembers': args.nonmembers, 'nonmember_weight': args.nonmember_weight,
                'alpha': alpha, 'scale': scale, 'rows': rows, 'classifier': res_clf.history[-1] if res_clf.history else None})
Path('outputs').mkdir(exist_ok=True)
json.dump(out, open(f"outputs/sd_study_extra{extra}{f'_nm{args.nonmembers}' if args.nonmembers else ''}.json", 'w'), indent=1)
