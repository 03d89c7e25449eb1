"""The single-object bar of the bundled model (issue 4): every shape x colour pair, with and without a
size word, drawn by the plain method and read back by the detector.

A picture passes (strict) when the detector finds exactly one object, of the asked shape and colour, and
nothing else. Prints the pass rate overall, by size word, by shape and by colour, the failure kinds, and
writes a JSON summary and a picture grid (one row per prompt, one column per seed, failures framed red).

Usage: python benchmarks/single_object.py [--model bundled] [--seeds 4] [--steps 25] [--guidance 4]
       [--out results.json] [--grid grid.png]
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import sys
import time

import numpy as np

SIZE_WORDS = (None, "small", "big")


def prompts() -> list[tuple[str, str, str | None]]:
    """(shape, colour, size word) for every pair and size word, in a fixed order."""
    from compose.shapes import world

    return [(shape, color, size) for shape in world.SHAPES for color in world.PALETTE for size in SIZE_WORDS]


def prompt_text(shape: str, color: str, size: str | None) -> str:
    return " ".join(word for word in ("a", size, color, shape) if word)


def framed(image: np.ndarray, passed: bool) -> np.ndarray:
    """The picture with a 2-pixel frame: white when it passed, red when it failed."""
    out = np.pad(image, ((2, 2), (2, 2), (0, 0)), constant_values=255)
    if not passed:
        out[:2], out[-2:], out[:, :2], out[:, -2:] = (220, 0, 0), (220, 0, 0), (220, 0, 0), (220, 0, 0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="'bundled' (default) or a model folder")
    parser.add_argument("--seeds", type=int, default=4, help="pictures per prompt: seeds 0..N-1 (default 4)")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance", type=float, default=4.0)
    parser.add_argument("--sampler", default="ddim")
    parser.add_argument("--batch", type=int, default=30, help="pictures drawn together")
    parser.add_argument("--out", default=None, help="write the JSON summary here")
    parser.add_argument("--grid", default=None, help="write the picture grid (PNG) here")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds {args.seeds}: give at least 1")

    from tqdm import tqdm

    from compose.model.bundle import load_model
    from compose.parsing import parse
    from compose.sampling import generate_plain
    from compose.shapes.score import score_image

    bundle = load_model(args.model)
    cases = [(case, seed) for case in prompts() for seed in range(args.seeds)]
    images: list[np.ndarray] = []
    started = time.perf_counter()
    with tqdm(total=len(cases), desc="single objects", unit="img") as progress:
        for start in range(0, len(cases), args.batch):
            chunk = cases[start:start + args.batch]
            images += generate_plain(bundle, [prompt_text(*case) for case, _ in chunk], [seed for _, seed in chunk],
                                     steps=args.steps, guidance=args.guidance, sampler=args.sampler)
            progress.update(len(chunk))
    seconds = time.perf_counter() - started

    passed: dict[str, list[bool]] = collections.defaultdict(list)
    failures: collections.Counter = collections.Counter()
    marks = []
    for ((shape, color, size), _seed), image in zip(cases, images):
        verdict = score_image(parse(prompt_text(shape, color, size)), image)
        ok = bool(verdict.correct_strict)
        marks.append(ok)
        for key in ("all", f"size:{size or 'none'}", f"shape:{shape}", f"color:{color}"):
            passed[key].append(ok)
        failures.update(verdict.kinds)
    rates = {key: round(sum(values) / len(values), 4) for key, values in passed.items()}
    summary = {
        "what": "plain method, single-object prompts: every shape x colour, no size word / small / big",
        "command": "python benchmarks/single_object.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": bundle.name, "seeds": args.seeds, "steps": args.steps, "guidance": args.guidance,
        "sampler": args.sampler, "pictures": len(cases), "passed": sum(marks), "rates": rates,
        "failure_kinds": dict(failures.most_common()), "seconds": round(seconds, 1),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "date": time.strftime("%Y-%m-%d"),
    }
    print(f"single-object strict pass rate: {rates['all']:.1%} ({sum(marks)}/{len(cases)}) in {seconds:.0f} s")
    for prefix in ("size:", "shape:", "color:"):
        kept = [(key[len(prefix):], rate) for key, rate in rates.items() if key.startswith(prefix)]
        print("  " + "  ".join(f"{name} {rate:.0%}" for name, rate in kept))
    print(f"  failures: {dict(failures.most_common()) or 'none'}")
    if args.out:
        from compose.files import write_atomically

        write_atomically(args.out, json.dumps(summary, indent=2) + "\n")
    if args.grid:
        from PIL import Image

        tiles = [framed(image, ok) for image, ok in zip(images, marks)]
        rows = [np.concatenate(tiles[row:row + args.seeds * 3], axis=1) for row in range(0, len(tiles), args.seeds * 3)]
        Image.fromarray(np.concatenate(rows, axis=0)).save(args.grid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
