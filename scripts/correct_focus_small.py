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


def asks_for_a_small_object(self, sample) -> bool:
    """The focused stream's test, replaced: the sample's caption asks for at least one small object."""
    return any(group.size == "small" for group in sample.scene.objects)


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] != "correct" or "--focus-share" not in sys.argv:
        raise SystemExit(__doc__)
    untraining.FocusedStream.wanted = asks_for_a_small_object
    sys.exit(main(sys.argv[1:]))
