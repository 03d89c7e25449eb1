"""Fidelity figures (compose.shapes.fidelity, issue 17): zero for a clean render, and they measure grain."""

import numpy as np

from compose.shapes.data import sample_at
from compose.shapes.fidelity import fidelity


def test_a_clean_render_is_perfect_and_grain_is_measured_in_levels():
    image = sample_at(3, 5, size=64).image
    clean = fidelity(image)
    assert clean.render_difference < 0.1 and clean.background_error == 0
    rng = np.random.default_rng(0)
    grain = np.clip(image.astype(int) - rng.integers(0, 21, size=image.shape), 0, 255).astype(np.uint8)
    noisy = fidelity(grain)
    background = (image == 255).all(axis=-1)
    assert abs(noisy.background_error - float((255 - grain[background].astype(int)).mean())) < 1.0
    assert 5 < noisy.render_difference < 11  # the grain's mean, 10 levels, where it is not clipped
