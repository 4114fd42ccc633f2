"""Does a smaller alpha, or a larger protected set, leave ordinary captions alone? The case study of 06_stable_diffusion on
the shipped mini text-to-image model (prints tables; asserts nothing; one thread).

    python benchmarks/sd_study.py EXTRA CLASSIFIER_STEPS ALPHA:S [ALPHA:S ...]

EXTRA: ordinary training images of the cases' classes protected beside the four case images. Writes
outputs/sd_study_extraEXTRA.json.
"""
import json, sys, time
from pathlib import Path
import torch
torch.set_num_threads(1)
from cpsample_nb.stable_diffusion import *
from cpsample_nb.stable_diffusion import protected_images
from cpsample_nb.classifier import TrainConfig
from cpsample_nb.data import load_fashion_mnist, heldout_threshold
from cpsample_nb.evaluation import load_quality_classifier, format_table
qual = load_quality_classifier()[0]
folder = shipped_t2i_folder(); man = json.loads((folder / 'manifest.json').read_text())
data = captioned_fashion(*load_fashion_mnist('train', 16), n=man['data']['n'], copies=man['data']['copies'], seed=man['data']['seed'])
test_x = load_fashion_mnist('test', 16)[0]
extra, steps = int(sys.argv[1]), int(sys.argv[2]); settings = [tuple(map(float, a.split(':'))) for a in sys.argv[3:]]
mini = load_t2i(folder)
t0 = time.perf_counter()
res_clf = train_latent_classifier(mini.vae, protected_images(data, extra), mini.scheduler, progress=False,
                                  config=TrainConfig(steps=steps, batch_size=50, eval_every=0, checkpoint_every=0))
print(f'latent classifier on {4 + extra} images: {res_clf.step} steps, {time.perf_counter() - t0:.0f} s;', res_clf.history[-1] if res_clf.history else '', flush=True)
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
    out.append({'extra': extra, 'steps': steps, 'alpha': alpha, 'scale': scale, 'rows': rows})
Path('outputs').mkdir(exist_ok=True); json.dump(out, open(f'outputs/sd_study_extra{extra}.json', 'w'), indent=1)
