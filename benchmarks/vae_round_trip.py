"""How exactly a VAE keeps shapes-world pictures: encode -> decode -> read back (compose issue 11, section 2).

For N random scenes of 1-8 objects (compose.vae_training.VAE_MIX, a stream no training run draws from),
the script renders each at the VAE's size, encodes it (the posterior's mode), decodes it, reads the
result back with the shapes-world detector and counts the pictures read back exactly (the same shapes
and colours, every box within IoU 0.8 of its true box: compose.shapes.score.read_back_exactly); it also
gives the mean absolute pixel error and the background's mean distance from white, in levels of 255.
The bar: >= 99.5% of 1000 scenes.

Run from the repository root:
    PYTHONPATH=. .venv/bin/python benchmarks/vae_round_trip.py --vae models/shapes-sd/vae --scenes 1000 \\
        --out benchmarks/results/vae-round-trip.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

try:
    from compose.vae_training import round_trip_report
except ModuleNotFoundError:  # run as a plain script from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from compose.vae_training import round_trip_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vae", type=Path, required=True, help="a diffusers AutoencoderKL folder")
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    import torch
    from diffusers import AutoencoderKL

    if args.threads:
        torch.set_num_threads(args.threads)
    vae = AutoencoderKL.from_pretrained(args.vae, torch_dtype=torch.float32, local_files_only=True).eval()
    size = int(vae.config.sample_size)
    start = time.perf_counter()
    report = round_trip_report(vae, args.scenes, size=size)
    report.update({"vae": str(args.vae), "size": size, "seconds": round(time.perf_counter() - start, 1),
                   "date": time.strftime("%Y-%m-%d")})
    print(f"{report['exact']}/{report['scenes']} read back exactly ({100 * report['exact_share']:.2f}%), "
          f"mean error {report['mean_abs_error']:.2f} levels, background {report['background_error']:.2f} "
          f"levels off white, {size} px, {report['seconds']} s")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
