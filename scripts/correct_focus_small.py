"""Issue 12's experiment: `compose correct` with `--focus-share` filled from stream samples that ask for a small
object (any shape) instead of samples that draw a target shape.

    python scripts/correct_focus_small.py correct MODEL --concept ... --focus-share SHARE [compose correct's options]

The idea tested: the mislabelled model's worst damage outside the two swapped words is small objects drawn as
nothing at all (the audit's "size:small", failures of kind "empty"), so a correction could give the captions
that ask for small objects a larger share of each batch. Measured 2026-12-07 (after the token swap, `--train
text` lr 2e-4, `--focus-share 0.3`): small objects no better than without it (README, "Untraining"), so it
stays a script, not an option.
"""

from __future__ import annotations

import sys

import compose.untraining as untraining
from compose.cli import main


def take_small(self, count: int) -> list:
    """The next `count` samples of the true stream (from the focused stream's own start) that ask for at least
    one small object."""
    from compose.shapes.data import TRAINING_MIX, sample_at

    found = []
    while len(found) < count:
        sample = sample_at(self.seed, self.next_index, size=self.size, mix=TRAINING_MIX)
        self.next_index += 1
        if any(group.size == "small" for group in sample.scene.objects):
            found.append(sample)
    return found


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "correct" or "--focus-share" not in sys.argv:
        raise SystemExit(__doc__)
    untraining.FocusedStream.take = take_small
    sys.exit(main(sys.argv[1:]))
