"""Slower and fault tests of `cpsample_nb.classifier`, `cpsample_nb.training` and `cpsample_nb.train_command` (the quick ones are cells of
nbs/04_classifier.ipynb, nbs/06_training.ipynb and nbs/07_train_command.ipynb).

- two CPU processes under `accelerate launch` train, the loss falls, the checkpoint loads, and the result
  matches a one-process run with the same seed (both draw the same global batches);
- a crash while a checkpoint is written leaves no partial checkpoint, and training resumes from the last good one;
- bad inputs fail with clear messages (a single corrupt checkpoint: nbs/06_training.ipynb).
"""
import json
import os
import subprocess

import pytest
import torch

from conftest import tool
from cpsample_nb import training as C
from cpsample_nb.train_command import main
from cpsample_nb.classifier import random_labels
from cpsample_nb.data import load_faces

SLOW = 'slow' in os.environ.get('CPSAMPLE_TEST_FLAGS', '').replace(',', ' ').split()

SMALL = ['--data', 'faces', '--limit', '8', '--batch-size', '8', '--channels', '8,16', '--groups', '4',
         '--lr', '1e-2', '--t-power', '4', '--eval-every', '10', '--checkpoint-every', '20', '--quiet']


@pytest.mark.xdist_group('classifier')
@pytest.mark.skipif(not SLOW, reason="two accelerate processes training (CPSAMPLE_TEST_FLAGS=slow)")
def test_two_process_accelerate_training(tmp_path):
    "accelerate launch --cpu --num_processes 2: loss falls, checkpoint loads, same weights as one process."
    script = tmp_path / 'train.py'
    script.write_text('from cpsample_nb.train_command import main\nmain()\n')
    out2 = tmp_path / 'two'
    cmd = [tool('accelerate'), 'launch', '--cpu', '--num_processes', '2', '--num_machines', '1',
           '--mixed_precision', 'no', '--dynamo_backend', 'no', '--main_process_port', '29517',
           str(script), *SMALL, '--steps', '60', '--out', str(out2)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path,
                       env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert r.stdout.count('training a ') == 1, r.stdout  # only the main process prints
    state = json.loads((C.latest_checkpoint(out2) / 'train' / 'state.json').read_text())
    ce = [h['ce'][0] for h in state['history']]
    assert state['step'] == 60 and state['history'][0]['step'] == 0
    assert ce[-1] < ce[0] - 0.05, ce  # the loss falls
    m2, y2 = C.load_classifier(out2)
    assert torch.equal(y2, random_labels(8, 0))
    one = main([*SMALL, '--steps', '60', '--out', str(tmp_path / 'one')])
    for (k, a), b in zip(m2.state_dict().items(), one.model.state_dict().values()):
        torch.testing.assert_close(a, b, atol=2e-4, rtol=1e-3, msg=lambda m: f'{k}: {m}')


def test_crash_while_saving_leaves_no_partial_checkpoint(tmp_path, monkeypatch):
    faces = load_faces()[:8]
    cfg = C.TrainConfig(steps=20, batch_size=8, eval_every=0, checkpoint_every=10, keep_checkpoints=5)
    small = dict(block_out_channels=(8, 16), norm_num_groups=4)
    real_save_file, calls = C.save_file, []

    def crash_on_second_checkpoint(tensors, path, *a, **k):
        calls.append(str(path))
        if 'checkpoint-0000020' in str(path) and 'optimizer' in str(path): raise OSError('disk full (simulated)')
        return real_save_file(tensors, path, *a, **k)
    monkeypatch.setattr(C, 'save_file', crash_on_second_checkpoint)
    with pytest.raises(OSError, match='simulated'):
        C.train_classifier(faces, tmp_path, cfg, model=small, progress=False)
    assert [p.name for p in C.checkpoint_dirs(tmp_path)] == ['checkpoint-0000010']
    assert not (tmp_path / 'checkpoint-0000020').exists()
    monkeypatch.setattr(C, 'save_file', real_save_file)
    resumed = C.train_classifier(faces, tmp_path, cfg, model=small, progress=False)
    straight = C.train_classifier(faces, tmp_path / 'b', cfg, model=small, progress=False)
    assert resumed.step == 20
    for a, b in zip(resumed.model.state_dict().values(), straight.model.state_dict().values()): assert torch.equal(a, b)


def test_bad_inputs(tmp_path):
    "The messages are the notebooks' (04_classifier check_images, 00_data load_image_folder, 06_training TrainConfig); here: they stop the run."
    with pytest.raises(ValueError, match='empty'):
        C.train_classifier(torch.zeros(0, 1, 16, 16), None, progress=False)
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError):
        main(['--data', str(tmp_path / 'empty'), '--out', str(tmp_path / 'o')])
    with pytest.raises(ValueError):
        main(['--data', 'faces', '--out', str(tmp_path / 'o'), '--batch-size', '0'])
    assert not (tmp_path / 'o').exists()


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as e: main(['--help'])
    out = capsys.readouterr().out
    assert e.value.code == 0 and '--data' in out and 'faces' in out and '--target-ce' in out and '--t-power' in out and '--t-weights' in out


def test_subset_option_trains_on_the_denoisers_draw(tmp_path):
    "--n/--subset-seed train on protected_subset(faces, n, seed), in its order, as `train-denoiser --n` draws it."
    from cpsample_nb.data import protected_subset
    args = ['--data', 'faces', '--n', '6', '--subset-seed', '3', '--batch-size', '6', '--channels', '8,16', '--groups', '4',
            '--steps', '2', '--eval-every', '2', '--quiet', '--out', str(tmp_path / 'run')]
    res = main(args)
    want = protected_subset(load_faces(), 6, 3).indices.tolist()
    assert json.loads((tmp_path / 'run' / 'protected_subset.json').read_text())['indices'] == want
    report = json.loads((tmp_path / 'run' / 'report.json').read_text())
    assert report['subset']['indices'] == want and report['images'] == 6 and len(res.labels) == 6
    with pytest.raises(ValueError, match='subset size n=101'):
        main([*args[:2], '--n', '101', *args[6:-1], str(tmp_path / 'bad')])
    assert not (tmp_path / 'bad').exists()  # nothing half-written


def test_band_targets_and_weights_from_the_command_line(tmp_path):
    "--target-ce names its bands and stops once all are met; --t-weights draws t by band; report.json holds the band table."
    base = ['--data', 'faces', '--limit', '6', '--batch-size', '6', '--channels', '8,16', '--groups', '4', '--quiet',
            '--eval-every', '2', '--steps', '20', '--t-weights', '0-100:1,100-500:3']
    res = main([*base, '--target-ce', '0-100:5,150-250:5', '--out', str(tmp_path / 'met')])
    assert res.step == 2  # both (generous) targets met at the first report
    report = json.loads((tmp_path / 'met' / 'report.json').read_text())
    assert report['targets_met'] is True and report['target_ce'] == [[0, 100, 5.0], [150, 250, 5.0]]
    assert '150-250' in report['bands'] and '0-100' in report['bands'] and report['t_weights'] == [[0, 100, 1.0], [100, 500, 3.0]]
    res = main([*base, '--target-ce', '0-100:1e-9', '--out', str(tmp_path / 'unmet')])
    assert res.step == 20 and json.loads((tmp_path / 'unmet' / 'report.json').read_text())['targets_met'] is False
    with pytest.raises(SystemExit):
        main([*base, '--target-ce', '0-100=0.05', '--out', str(tmp_path / 'bad')])


def test_stem_stride_and_multiclass_save_load(tmp_path):
    "A strided stem halves the working resolution; a K-class classifier saves and loads with its labels."
    x = load_faces()[:6]
    res = C.train_classifier(x, tmp_path, C.TrainConfig(steps=2, batch_size=6, eval_every=0), labels=[0, 1, 2, 3, 4, 0],
                             model=dict(block_out_channels=(8, 16), norm_num_groups=4, num_classes=5, stem_stride=2), progress=False)
    m, y = C.load_classifier(tmp_path)
    assert m.config.num_classes == 5 and m.config.stem_stride == 2 and y.tolist() == [0, 1, 2, 3, 4, 0]
    torch.testing.assert_close(m(x, 3), res.model(x, 3))
    labels = json.loads((res.checkpoint / 'labels.json').read_text())
    labels['labels'][0] = 7
    (res.checkpoint / 'labels.json').write_text(json.dumps(labels))
    with pytest.raises(ValueError, match='in \\{0, ..., 4\\} for num_classes=5, got values \\[7\\]'):
        C.load_classifier(tmp_path)
