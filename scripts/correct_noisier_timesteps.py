"""Issue 12's experiment: `compose correct` with every training timestep drawn from the noisier end only.

    python scripts/correct_noisier_timesteps.py LOWEST correct MODEL --concept ... [compose correct's options]

The idea tested: the words decide a picture's shape and layout early in sampling, at high noise, so a
correction that trains only what reads the words might learn them with less drift if its timesteps are drawn
from [LOWEST, 1000) instead of [0, 1000). Measured 2026-12-06 (LOWEST 500, after the token swap, `--train text`
lr 2e-4): worse than drawing from every timestep (README, "Untraining"), so it stays a script, not an option.
"""

from __future__ import annotations

import functools
import sys

import compose.training as training
from compose.cli import main

if __name__ == "__main__":
    if len(sys.argv) < 3 or not sys.argv[1].isdigit():
        raise SystemExit(__doc__)
    training.noised_batch = functools.partial(training.noised_batch, lowest_timestep=int(sys.argv[1]))
    sys.exit(main(sys.argv[2:]))
