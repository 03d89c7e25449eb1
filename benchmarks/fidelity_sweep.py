"""Where the bundled model's grain comes from: fidelity and correctness per sampler setting (issue 17).

For the first N prompts of some suites, one seed, the compose method draws each picture under several
sampler settings and the script prints, per setting, the median render difference and background error
(compose.shapes.fidelity; levels of 255) and how many pictures the scorer reads back strictly right.
The model's own scheduler config is overridden key by key (e.g. DDIM's timestep spacing), nothing else.

Run from the repository root:
    PYTHONPATH=. .venv/bin/python benchmarks/fidelity_sweep.py --out benchmarks/results/fidelity-sweep.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# (name, sampler, scheduler-config overrides, steps)
SETTINGS = [
    ("ddim, leading spacing (the shipped config)", "ddim", {}, 25),
    ("ddim, trailing spacing", "ddim", {"timestep_spacing": "trailing"}, 25),
    ("ddim, trailing, final alpha 1", "ddim", {"timestep_spacing": "trailing", "set_alpha_to_one": True}, 25),
    ("dpm-solver++, leading", "dpm", {}, 25),
    ("dpm-solver++, trailing", "dpm", {"timestep_spacing": "trailing"}, 25),
    ("euler, trailing", "euler", {"timestep_spacing": "trailing"}, 25),
    ("ddim, trailing, 12 steps", "ddim", {"timestep_spacing": "trailing"}, 12),
    ("ddim, trailing, 8 steps", "ddim", {"timestep_spacing": "trailing"}, 8),
    ("ddim, trailing, 4 steps", "ddim", {"timestep_spacing": "trailing"}, 4),
    ("dpm-solver++, trailing, 8 steps", "dpm", {"timestep_spacing": "trailing"}, 8),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="'bundled' (default) or a model folder")
    parser.add_argument("--suites", default="complex,counting", help="suites whose first prompts are drawn")
    parser.add_argument("--per-suite", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from compose.generate import Generator
    from compose.shapes.detect import detect
    from compose.shapes.fidelity import fidelity
    from compose.shapes.score import score

    from compose.bench.suites import load_suite

    prompts = [item.prompt for suite in args.suites.split(",") for item in load_suite(suite, limit=args.per_suite).items]
    generator = Generator(args.model)
    shipped = dict(generator.bundle.scheduler_config)
    results = []
    for name, sampler, overrides, steps in SETTINGS:
        generator.bundle.scheduler_config = {**shipped, **overrides}
        generator.sampler, generator.pipeline = sampler, None
        figures, correct, clock = [], 0, time.perf_counter()
        for prompt in prompts:
            result = generator(prompt=prompt, seed=args.seed, steps=steps)
            found = detect(result.image)
            quality = fidelity(result.image, found)
            figures.append((quality.render_difference, quality.background_error))
            correct += score(result.scene, found).correct_strict
        values = np.asarray(figures)
        row = {"setting": name, "sampler": sampler, "overrides": overrides, "steps": steps,
               "median_render_difference": round(float(np.median(values[:, 0])), 2),
               "median_background_error": round(float(np.median(values[:, 1])), 2),
               "correct_strict": correct, "pictures": len(prompts),
               "seconds_per_picture": round((time.perf_counter() - clock) / len(prompts), 3)}
        results.append(row)
        print(f"{name:44s} render {row['median_render_difference']:6.2f}  background "
              f"{row['median_background_error']:5.2f}  correct {correct}/{len(prompts)}", flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "model": args.model or "bundled",
                                        "suites": args.suites, "per_suite": args.per_suite, "seed": args.seed,
                                        "results": results}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
