"""Accuracy, fidelity and time against the number of denoising steps, per sampler, plain and compose (issue 17).

For the first N prompts of every suite (and the layout suite), one seed, each method draws each picture
with every sampler x step count below; the script reads every picture back and writes, per (sampler,
spacing, steps, method): strict accuracy, the median render difference and background error
(compose.shapes.fidelity, levels of 255) and the median seconds per picture. The model's scheduler config
is overridden only in its timestep spacing; "leading" is what shapes-v2 shipped with, "trailing" puts the
last step at low noise for any step count (diffusers' recommendation for few steps).

Run from the repository root, with nothing else running (it times pictures):
    PYTHONPATH=. .venv/bin/python benchmarks/steps_curve.py --per-suite 6 \\
        --out benchmarks/results/steps-curve.json --plot docs/steps_curve.png
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STEPS = (1, 2, 4, 8, 12, 25)
SAMPLERS = (("ddim", "trailing"), ("dpm", "trailing"), ("euler", "trailing"), ("ddim", "leading"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="'bundled' (default) or a model folder")
    parser.add_argument("--per-suite", type=int, default=6, help="the first N prompts of each suite")
    parser.add_argument("--methods", default="plain,compose")
    parser.add_argument("--steps", default=",".join(map(str, STEPS)))
    parser.add_argument("--samplers", default=",".join(f"{name}:{spacing}" for name, spacing in SAMPLERS),
                        help="SAMPLER:SPACING pairs, comma-separated (default: all four)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--replot", action="store_true", help="only redraw --plot from the rows in --out")
    args = parser.parse_args()
    if args.replot:
        plot(json.loads(args.out.read_text())["rows"], args.methods.split(","), args.plot)
        return

    from tqdm.auto import tqdm

    from compose.bench.suites import load_suites
    from compose.generate import Generator
    from compose.shapes.detect import detect
    from compose.shapes.fidelity import fidelity
    from compose.shapes.score import score

    items = [item for suite in load_suites(limit=args.per_suite) for item in suite.items]
    methods = args.methods.split(",")
    step_counts = [int(value) for value in args.steps.split(",")]
    samplers = [tuple(pair.split(":")) for pair in args.samplers.split(",")]
    unknown = [pair for pair in samplers if pair not in SAMPLERS]
    if unknown:
        parser.error(f"--samplers {args.samplers}: choose among " + ", ".join(f"{a}:{b}" for a, b in SAMPLERS))
    generator = Generator(args.model)
    shipped = dict(generator.bundle.scheduler_config)
    rows = []
    bar = tqdm(total=len(samplers) * len(step_counts) * len(methods) * len(items), unit="picture")
    for sampler, spacing in samplers:
        generator.bundle.scheduler_config = {**shipped, "timestep_spacing": spacing}
        generator.sampler, generator.pipeline = sampler, None
        generator(prompt="a red circle", seed=0, steps=1)  # warm-up: the pipeline is built outside the clock
        for steps in step_counts:
            for method in methods:
                right, render, background, seconds = 0, [], [], []
                for item in items:
                    clock = time.perf_counter()
                    result = generator(prompt=item.prompt, layout=item.layout, method=method, seed=args.seed,
                                       steps=steps)
                    seconds.append(time.perf_counter() - clock)
                    found = detect(result.image)
                    right += score(item.scene, found, item.layout).correct_strict
                    quality = fidelity(result.image, found)
                    render.append(quality.render_difference)
                    background.append(quality.background_error)
                    bar.update(1)
                row = {"sampler": sampler, "spacing": spacing, "steps": steps, "method": method,
                       "pictures": len(items), "strict": round(right / len(items), 4),
                       "median_render_difference": round(statistics.median(render), 2),
                       "median_background_error": round(statistics.median(background), 2),
                       "median_seconds": round(statistics.median(seconds), 4)}
                rows.append(row)
                bar.write(f"{sampler:5s} {spacing:8s} {steps:2d} steps {method:8s} strict {row['strict']:.3f}  "
                          f"render {row['median_render_difference']:5.2f}  background "
                          f"{row['median_background_error']:5.2f}  {row['median_seconds']:.3f} s")
    bar.close()
    generator.bundle.scheduler_config = shipped
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"model": args.model or "bundled", "per_suite": args.per_suite,
                                    "seed": args.seed, "pictures_per_row": len(items), "rows": rows}, indent=2) + "\n")
    if args.plot is not None:
        plot(rows, methods, args.plot)


def plot(rows: list[dict], methods: list[str], path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 3.6))
    axes = figure.subplots(1, 3)
    colours = dict(zip(SAMPLERS, ("tab:blue", "tab:green", "tab:orange", "tab:red")))
    for sampler, spacing in SAMPLERS:
        for method in methods:
            mine = sorted((row for row in rows if (row["sampler"], row["spacing"], row["method"]) ==
                           (sampler, spacing, method)), key=lambda row: row["steps"])
            if not mine:
                continue
            steps = [row["steps"] for row in mine]
            look = {"linestyle": "-" if method == "compose" else "--", "marker": "o" if method == "compose" else "x",
                    "color": colours[(sampler, spacing)], "label": f"{method}, {sampler} {spacing}", "alpha": 0.8}
            axes[0].plot(steps, [100 * row["strict"] for row in mine], **look)
            axes[1].plot(steps, [row["median_background_error"] for row in mine], **look)
            axes[2].plot(steps, [row["median_seconds"] for row in mine], **look)
    axes[1].set_yscale("log")
    for axis, title in zip(axes, ("strict accuracy (%)", "background off white (levels, median, log)",
                                  "seconds per picture (median)")):
        axis.set_xscale("log", base=2)
        axis.set_xticks(STEPS, [str(value) for value in STEPS])
        axis.set_xlabel("denoising steps")
        axis.set_title(title, fontsize=10)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=6)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
