"""The model's own error at each noise level: how much grain does one prediction leave (issue 17)?

Clean shapes-world pictures (the training stream's plain-caption batches, a seed the model never trained
on) are noised to timestep t and the model predicts the clean picture from its caption (no guidance):
x0 = sqrt(abar_t) x_t - sqrt(1 - abar_t) v. The script prints, per t, the mean absolute difference of the
prediction from the clean picture in levels of 255 (all pixels, and the white background alone), beside
the noisy input's own difference. A model that denoised perfectly at low t would print ~0 there; what
it prints at the last sampling steps' t is grain the sampler cannot remove.

Run from the repository root:
    PYTHONPATH=. .venv/bin/python benchmarks/low_noise_error.py --out benchmarks/results/low-noise-error.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TIMESTEPS = (0, 2, 5, 10, 20, 40, 80, 160, 320)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="'bundled' (default) or a model folder")
    parser.add_argument("--pictures", type=int, default=64)
    parser.add_argument("--seed", type=int, default=12345, help="the stream's seed (training used 0)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from diffusers import DDPMScheduler

    from compose.model.bundle import load_model
    from compose.sampling import encode_prompts
    from compose.training import ShapesBatches

    bundle = load_model(args.model)
    schedule = DDPMScheduler.from_config(bundle.scheduler_config)
    data = ShapesBatches(args.seed, args.pictures, start_batch=0, rank=0, world=1, region_fraction=0.0,
                         image_size=bundle.native_size)
    batch = data.batch(0)
    images = batch["images"]
    white = (images > 0.98).all(dim=1, keepdim=True).expand_as(images)  # background pixels
    generator = torch.Generator().manual_seed(args.seed)
    rows = []
    with torch.no_grad():
        clean = bundle.codec.encode(images, generator=generator).float()
        condition = encode_prompts(bundle, batch["captions"])
        noise = torch.randn(clean.shape, generator=generator)
        for t in TIMESTEPS:
            steps = torch.full((clean.shape[0],), t, dtype=torch.long)
            noisy = schedule.add_noise(clean, noise, steps)
            velocity = bundle.unet(noisy, steps, encoder_hidden_states=condition).sample
            keep = schedule.alphas_cumprod[t].sqrt()
            predicted = keep * noisy - (1 - schedule.alphas_cumprod[t]).sqrt() * velocity

            def levels(samples, where=None):
                difference = (bundle.codec.decode(samples).clamp(-1, 1) - images).abs() * 127.5
                return round(float(difference.mean() if where is None else difference[where].mean()), 2)

            row = {"t": t, "noise_std": round(float((1 - schedule.alphas_cumprod[t]).sqrt() / keep), 4),
                   "input_levels": levels(noisy / keep), "prediction_levels": levels(predicted),
                   "prediction_background_levels": levels(predicted, white)}
            rows.append(row)
            print(f"t={t:4d}  noise std {row['noise_std']:.4f}  input {row['input_levels']:6.2f}  "
                  f"prediction {row['prediction_levels']:6.2f}  background {row['prediction_background_levels']:6.2f}",
                  flush=True)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"model": args.model or "bundled", "pictures": args.pictures,
                                        "seed": args.seed, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
