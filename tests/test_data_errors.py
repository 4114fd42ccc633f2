"""Fault cases of the data loaders that a user meets with their own files (bad-input messages: nbs/00_data.ipynb)."""
import numpy as np
import pytest
from PIL import Image

from cpsample_nb.data import load_image_folder


def test_truncated_png_is_named(tmp_path):
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(tmp_path / 'good.png')
    data = (tmp_path / 'good.png').read_bytes()
    (tmp_path / 'broken.png').write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match='broken.png'):
        load_image_folder(tmp_path, 8)


def test_rgba_and_rgb_load_together_as_colour(tmp_path):
    opaque_black = np.zeros((6, 6, 4), np.uint8); opaque_black[..., 3] = 255
    Image.fromarray(opaque_black, 'RGBA').save(tmp_path / 'a.png')
    Image.fromarray(np.full((6, 6, 3), 255, np.uint8)).save(tmp_path / 'b.png')
    Image.fromarray(np.zeros((6, 6, 4), np.uint8), 'RGBA').save(tmp_path / 'c.png')  # fully transparent: composited onto white
    x = load_image_folder(tmp_path, 4)
    assert x.shape == (3, 3, 4, 4) and x[0].max() == -1 and x[1].min() == 1 and x[2].min() == 1


def test_nested_grayscale_and_rgba_to_the_models_channels(tmp_path):
    (tmp_path / 'a' / 'b').mkdir(parents=True)
    Image.fromarray(np.zeros((40, 34), np.uint8)).save(tmp_path / "a" / "g.png")
    Image.fromarray(np.full((33, 33, 4), 255, np.uint8), 'RGBA').save(tmp_path / 'a' / 'b' / 'c.png')
    x = load_image_folder(tmp_path, 32, channels=3, min_images=2, min_side=32)
    assert x.shape == (2, 3, 32, 32) and x[0].min() > 0.999 and x[1].max() < -0.999  # path order: a/b/c.png before a/g.png
