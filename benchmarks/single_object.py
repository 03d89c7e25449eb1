"""The single-object bar of the bundled model (issue 4): every shape x colour pair, with and without a
size word, drawn by the plain method and read back by the detector.

A picture passes (strict) when the detector finds exactly one object, of the asked shape and colour, and
nothing else. Prints the pass rate overall, by size word, by shape and by colour, the failure kinds, and
writes a JSON summary and a picture grid (one row per prompt, one column per seed, failures framed red).

Drawing and scoring can run on different machines (a lent GPU has no spaCy for the prompt parser that
scoring uses): `--draw-only --save-pictures FILE.npz` draws and saves; `--pictures FILE.npz` scores them.

Usage: python benchmarks/single_object.py [--model bundled] [--seeds 4] [--steps 25] [--guidance 4]
       [--device cpu] [--out results.json] [--grid grid.png] [--save-pictures F.npz [--draw-only]]
       python benchmarks/single_object.py --pictures F.npz [--out results.json] [--grid grid.png]
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


def draw(args) -> dict:
    """Draw every (prompt, seed) picture; returns the pictures with what drew them."""
    from tqdm import tqdm

    from compose.model.bundle import load_model
    from compose.sampling import generate_plain

    bundle = load_model(args.model, device=args.device)
    texts = [prompt_text(*case) for case in prompts() for _ in range(args.seeds)]
    seeds = [seed for _ in prompts() for seed in range(args.seeds)]
    images: list[np.ndarray] = []
    started = time.perf_counter()
    with tqdm(total=len(texts), desc="single objects", unit="img") as progress:
        for start in range(0, len(texts), args.batch):
            images += generate_plain(bundle, texts[start:start + args.batch], seeds[start:start + args.batch],
                                     steps=args.steps, guidance=args.guidance, sampler=args.sampler)
            progress.update(len(texts[start:start + args.batch]))
    return {"images": np.stack(images), "prompts": np.array(texts), "seeds": np.array(seeds),
            "model": bundle.name, "training": json.dumps(bundle.info.get("training", {})),
            "steps": args.steps, "guidance": args.guidance, "sampler": args.sampler,
            "seconds": round(time.perf_counter() - started, 1), "device": str(bundle.device),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip()}


def load_pictures(path: str) -> dict:
    """Pictures saved by --save-pictures (plain arrays; no pickles are loaded)."""
    with np.load(path, allow_pickle=False) as saved:
        drawn = {key: saved[key] for key in saved.files}
    for key in ("model", "training", "sampler", "device", "machine"):
        drawn[key] = str(drawn[key])
    for key in ("steps", "guidance", "seconds"):
        drawn[key] = drawn[key].item()
    return drawn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="'bundled' (default) or a model folder")
    parser.add_argument("--seeds", type=int, default=4, help="pictures per prompt: seeds 0..N-1 (default 4)")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance", type=float, default=4.0)
    parser.add_argument("--sampler", default="ddim")
    parser.add_argument("--batch", type=int, default=30, help="pictures drawn together")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--out", default=None, help="write the JSON summary here")
    parser.add_argument("--grid", default=None, help="write the picture grid (PNG) here")
    parser.add_argument("--save-pictures", default=None, help="save the drawn pictures here (.npz)")
    parser.add_argument("--draw-only", action="store_true", help="draw and save the pictures; do not score")
    parser.add_argument("--pictures", default=None, help="score pictures saved by --save-pictures instead of drawing")
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error(f"--seeds {args.seeds}: give at least 1")
    if args.draw_only and not args.save_pictures:
        parser.error("--draw-only needs --save-pictures FILE.npz")

    if args.pictures:
        drawn = load_pictures(args.pictures)
    else:
        drawn = draw(args)
        if args.save_pictures:
            np.savez_compressed(args.save_pictures, **drawn)
        if args.draw_only:
            print(f"drew {len(drawn['images'])} pictures in {drawn['seconds']:.0f} s -> {args.save_pictures}")
            return 0
    seeds_per_prompt = int(drawn["seeds"].max()) + 1
    cases = {prompt_text(*case): case for case in prompts()}
    unknown = sorted(set(drawn["prompts"].tolist()) - set(cases))
    if unknown:
        raise SystemExit(f"{args.pictures}: prompts not in the single-object set: {unknown[:3]}")

    from compose.parsing import parse
    from compose.shapes.score import score_image

    passed: dict[str, list[bool]] = collections.defaultdict(list)
    failures: collections.Counter = collections.Counter()
    marks = []
    for text, image in zip(drawn["prompts"].tolist(), drawn["images"]):
        shape, color, size = cases[text]
        verdict = score_image(parse(text), image)
        ok = bool(verdict.correct_strict)
        marks.append(ok)
        for key in ("all", f"size:{size or 'none'}", f"shape:{shape}", f"color:{color}"):
            passed[key].append(ok)
        failures.update(verdict.kinds)
    rates = {key: round(sum(values) / len(values), 4) for key, values in passed.items()}
    summary = {
        "what": "plain method, single-object prompts: every shape x colour, no size word / small / big",
        "command": "python benchmarks/single_object.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": drawn["model"], "training": json.loads(drawn["training"]), "seeds": seeds_per_prompt,
        "steps": drawn["steps"], "guidance": drawn["guidance"], "sampler": drawn["sampler"],
        "pictures": len(marks), "passed": sum(marks), "rates": rates,
        "failure_kinds": dict(failures.most_common()), "drawing_seconds": drawn["seconds"],
        "device": drawn["device"], "machine": drawn["machine"], "date": time.strftime("%Y-%m-%d"),
    }
    print(f"single-object strict pass rate: {rates['all']:.1%} ({sum(marks)}/{len(marks)}), "
          f"drawn in {drawn['seconds']:.0f} s on {drawn['device']}")
    for prefix in ("size:", "shape:", "color:"):
        kept = [(key[len(prefix):], rate) for key, rate in rates.items() if key.startswith(prefix)]
        print("  " + "  ".join(f"{name} {rate:.0%}" for name, rate in kept))
    print(f"  failures: {dict(failures.most_common()) or 'none'}")
    if args.out:
        from compose.files import write_atomically

        write_atomically(args.out, json.dumps(summary, indent=2) + "\n")
    if args.grid:
        from PIL import Image

        tiles = [framed(image, ok) for image, ok in zip(drawn["images"], marks)]
        width = seeds_per_prompt * 3
        rows = [np.concatenate(tiles[row:row + width], axis=1) for row in range(0, len(tiles), width)]
        Image.fromarray(np.concatenate(rows, axis=0)).save(args.grid)
    return 0


if __name__ == "__main__":
    sys.exit(main())
