"""How big a model draws one size wording, and how often it draws nothing: a quick look at small objects.

    python scripts/drawn_sizes.py MODEL [MODEL ...] [--size small] [--shapes circle,square,triangle]
                                  [--seeds 0,1,2,3] [--out SIZES.json] [--threads 2]

Draws "a [SIZE] COLOUR SHAPE" for each of `--shapes` in every palette colour at each seed, exactly as `compose
audit` draws its single-object pictures (the plain method at the model's defaults), reads each back with the
detector and reports, per model: the side of the largest object read back (the square root of its box's area,
in canvas fractions; the shapes world renders "small" at 0.16-0.22, unsized 0.16-0.40, "large" 0.32-0.40, and
the detector reads a rendered side back exactly), its spread, and how many pictures held no object (empty) or
more than one (copies). `--size none` asks with no size word. The default shapes leave out the diamond and the
star, the targets of issue 12's correction (README, "Untraining"), so the figures describe the rest.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch


def drawn_sizes(generator, size: str | None, shapes: list[str], seeds: list[int]) -> dict:
    """The drawn side's mean and spread and the empty and copied pictures, for one model."""
    from compose.bench.audit import audit_cases, read_cases
    from compose.shapes.detect import detect

    sides, empty, copies = [], 0, 0
    cases = [case for case in audit_cases(shapes, seeds) if case[2] == size]
    for reading in read_cases(generator, cases, progress=True):
        found = detect(reading.image)
        if not found:
            empty += 1
            continue
        copies += len(found) > 1
        box = max(found, key=lambda item: (item.box[2] - item.box[0]) * (item.box[3] - item.box[1])).box
        sides.append(((box[2] - box[0]) * (box[3] - box[1])) ** 0.5)
    return {"pictures": len(cases), "empty": empty, "copies": copies,
            "side_mean": round(statistics.mean(sides), 4) if sides else None,
            "side_sd": round(statistics.pstdev(sides), 4) if sides else None}


def main() -> None:
    from compose.bench.audit import named_shapes
    from compose.generate import Generator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model folders, or 'bundled'")
    parser.add_argument("--size", default="small", help="the size word asked for: small, big or none")
    parser.add_argument("--shapes", default="circle,square,triangle", help="comma-separated")
    parser.add_argument("--seeds", default="0,1,2,3", help="comma-separated seeds (default 0,1,2,3)")
    parser.add_argument("--out", type=Path, help="also write the figures here (JSON)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.size not in ("small", "big", "none"):
        parser.error(f"--size {args.size!r}: give small, big or none (the audit's size wordings)")
    try:
        shapes = named_shapes(args.shapes)
    except ValueError as error:
        parser.error(f"--shapes: {error}")
    torch.set_num_threads(args.threads)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    size = None if args.size == "none" else args.size
    figures = {}
    for model in args.models:
        figures[model] = drawn_sizes(Generator(model), size, shapes, seeds)
        row = figures[model]
        print(f"{model}: {args.size} side {row['side_mean']} (sd {row['side_sd']}), {row['empty']} empty, "
              f"{row['copies']} with copies, of {row['pictures']}", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"size": args.size, "shapes": shapes, "seeds": seeds, "models": figures},
                                       indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
