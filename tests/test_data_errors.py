"""Fault cases of the data loaders that a user meets with their own files."""
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


def test_folder_given_as_a_file(tmp_path):
    f = tmp_path / 'one.png'
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(f)
    with pytest.raises(NotADirectoryError, match='is a file, not a folder'):
        load_image_folder(f, 8)


def test_rgba_and_rgb_load_together_as_colour(tmp_path):
    Image.fromarray(np.zeros((6, 6, 4), np.uint8), 'RGBA').save(tmp_path / 'a.png')
    Image.fromarray(np.full((6, 6, 3), 255, np.uint8)).save(tmp_path / 'b.png')
    x = load_image_folder(tmp_path, 4)
    assert x.shape == (2, 3, 4, 4) and x[0].max() == -1 and x[1].min() == 1

