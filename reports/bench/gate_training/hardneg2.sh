cd /work/main
export PYTHONPATH=/work/snapC
.venv/bin/python runs/gate/cache.py train2 3
.venv/bin/python - <<'PY'
import torch
from pathlib import Path
from PIL import Image
c1, c2 = torch.load('runs/gate/train.pt'), torch.load('runs/gate/train2.pt')
novel = torch.cat([c['final'][c['cos'] <= c['thr']] for c in (c1, c2)])
print('novel', len(novel))
out = Path('runs/gate/hardneg2'); out.mkdir(exist_ok=True)
for f in Path('runs/gate/hardneg').glob('rest*.png'): (out / f.name).write_bytes(f.read_bytes())
for i, x in enumerate(novel):
    Image.fromarray(((x[0].clamp(-1, 1) + 1) * 127.5).round().byte().numpy(), 'L').save(out / f'novel{i:05d}.png')
PY
.venv/bin/cpsample train-classifier --threads 1 --data fashion --n 300 --subset-seed 0 --out runs/gate/c5_hard2 --channels 8,16 --stem-stride 2 --t-weights 0-20:1 --steps 3001 --batch-size 128 --eval-every 0 --checkpoint-every 1000 --nonmembers runs/gate/hardneg2 --device cpu
