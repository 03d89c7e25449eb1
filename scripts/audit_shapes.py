"""The audit's single-object pictures of a few shapes only: a quick check of the targets of a correction.

    python scripts/audit_shapes.py MODEL OUT.json [--shapes diamond,star] [--seeds 0,1,2,3] [--guidance G] [--threads 2]

Draws every one of `--shapes` in every palette colour and size wording at each seed exactly as `compose audit
MODEL --seeds 4` draws them (the same cases, the plain method at the model's defaults, one picture at a time),
reads each back with the detector and counts a picture right when it holds exactly the asked object, as the
audit does; so its counts equal the audit's for those shapes, in a fraction of its time (144 pictures for two
shapes at 4 seeds). Writes every picture's reading to OUT.json and prints the counts. Used for issue 12
(README, "Untraining").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def main() -> None:
    from compose.bench.audit import audit_cases, named_shapes, read_cases
    from compose.generate import Generator

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model folder, or 'bundled'")
    parser.add_argument("out", type=Path, help="where to write the readings (JSON)")
    parser.add_argument("--shapes", default="diamond,star", help="comma-separated (default diamond,star)")
    parser.add_argument("--seeds", default="0,1,2,3", help="comma-separated seeds (default 0,1,2,3)")
    parser.add_argument("--guidance", type=float, default=None,
                        help="classifier-free guidance (default: the model's own, as the audit draws)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    try:
        shapes = named_shapes(args.shapes)
    except ValueError as error:
        parser.error(f"--shapes: {error}")
    torch.set_num_threads(args.threads)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    generator = Generator(args.model)
    rows = [{"shape": r.shape, "color": r.color, "size": r.size, "seed": r.seed, "drawn_shape": r.drawn_shape,
             "drawn_color": r.drawn_color, "objects": r.objects, "correct": r.correct}
            for r in read_cases(generator, audit_cases(shapes, seeds), guidance=args.guidance, progress=True)]
    counts = {shape: {"right": sum(row["correct"] for row in rows if row["shape"] == shape),
                      "pictures": sum(row["shape"] == shape for row in rows)} for shape in shapes}
    args.out.write_text(json.dumps({"model": args.model, "seeds": seeds, "guidance": args.guidance, "counts": counts, "rows": rows}, indent=1)
                        + "\n", encoding="utf-8")
    for shape, count in counts.items():
        print(f"{shape}: {count['right']} of {count['pictures']} right")


if __name__ == "__main__":
    main()
