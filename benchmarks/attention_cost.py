"""What recording attention maps costs (issue 13: <= 15% time when on, nothing when off).

For the plain and compose methods on one model, the script times whole pictures (25 steps by default,
one picture a call, after a warm-up) with recording off and on, as the median of `--repeats` runs of
`--pictures` pictures each, and, for the plain method, the UNet with diffusers' own attention
processors against compose's processor with nothing to do (the cost of having region control
installed when it is off). Run it on an otherwise idle machine.

Run from the repository root:
    PYTHONPATH=. .venv/bin/python benchmarks/attention_cost.py --out benchmarks/results/attention-cost.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROMPT = "a red circle to the left of two blue squares, and a yellow star above the squares"


def timed(function, pictures: int, repeats: int) -> float:
    """Median seconds per picture over `repeats` runs of `pictures` calls."""
    runs = []
    for _ in range(repeats):
        clock = time.perf_counter()
        for seed in range(pictures):
            function(seed)
        runs.append((time.perf_counter() - clock) / pictures)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--pictures", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import torch

    from compose.generate import Generator
    from compose.regions.attention import region_processors

    if args.threads:
        torch.set_num_threads(args.threads)
    generator = Generator(args.model)
    results = {}
    for method in ("plain", "compose"):
        def draw(seed, record, method=method):
            generator(prompt=PROMPT, method=method, seed=seed, steps=args.steps, attention=record)

        draw(0, True)  # warm-up: imports, planner, caches
        off = timed(lambda seed: draw(seed, False), args.pictures, args.repeats)
        on = timed(lambda seed: draw(seed, True), args.pictures, args.repeats)
        results[method] = {"seconds_off": round(off, 4), "seconds_on": round(on, 4),
                           "recording_cost": round(on / off - 1, 4)}
        print(f"{method:8s} off {off:.3f} s  on {on:.3f} s per picture: recording costs {100 * (on / off - 1):+.1f}%",
              flush=True)

    # Region control installed but idle, against diffusers' own processors: one guided UNet call.
    bundle = generator.bundle
    side = bundle.native_size // bundle.codec.downscale
    sample = torch.randn(2, bundle.codec.channels, side, side)
    context = torch.randn(2, bundle.text_length, bundle.text_encoder.config.hidden_size)

    def unet_call(_seed):
        with torch.no_grad():
            bundle.unet(sample, 500, encoder_hidden_states=context)

    unet_call(0)
    stock = timed(unet_call, 20, args.repeats)

    with region_processors(bundle.unet):  # installed once, as the denoising loop installs it per picture
        unet_call(0)
        idle = timed(unet_call, 20, args.repeats)
    results["unet_call"] = {"stock_seconds": round(stock, 5), "compose_idle_seconds": round(idle, 5),
                            "idle_cost": round(idle / stock - 1, 4)}
    print(f"one guided UNet call: diffusers' processors {1000 * stock:.1f} ms, compose's with nothing recorded "
          f"{1000 * idle:.1f} ms ({100 * (idle / stock - 1):+.1f}%)")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "model": args.model or "bundled",
                                        "steps": args.steps, "threads": torch.get_num_threads(),
                                        "machine": platform.processor() or platform.machine(),
                                        "results": results}, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
