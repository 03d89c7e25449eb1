"""How clean a generated shapes-world picture is, beside whether it is right (compose issue 17).

The detector forgives grain and ragged edges; a person does not. Two figures per picture, both in
levels of 255 (means over the colour channels):
- `render_difference`: the mean absolute difference between the picture and a clean render of exactly
  the objects the detector reads in it (compose.shapes.render draws what was found), over all pixels;
- `background_error`: the mean distance from white of the pixels that are background in that render.
A clean render of any scene scores about 0 (its re-render differs only where a detected box edge
lies a fraction of a pixel off the true one: hundredths of a level).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fidelity:
    render_difference: float
    background_error: float

    def to_dict(self) -> dict:
        return {"render_difference": round(self.render_difference, 3), "background_error": round(self.background_error, 3)}


def fidelity(image: np.ndarray, found=None) -> Fidelity:
    """The two figures of `image` ((S, S, 3) uint8); `found`: its detections, if already read."""
    from compose.shapes.detect import detect
    from compose.shapes.render import render

    found = detect(image) if found is None else found
    clean = render(list(found), image.shape[0]).astype(np.int16)
    picture = image.astype(np.int16)
    difference = np.abs(picture - clean)
    background = (clean == 255).all(axis=-1)
    background_error = float((255 - picture[background]).mean()) if background.any() else 0.0
    return Fidelity(render_difference=float(difference.mean()), background_error=background_error)
