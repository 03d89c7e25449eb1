"""How large each weight's training gradient is, over a few batches of the true stream: the spread that
makes plain Adam move millions of weights the data pushes only by noise (README, untraining).

    PYTHONPATH=. .venv/bin/python benchmarks/gradient_scale.py --model models/shapes-v2-mislabelled --batches 4

Prints the quantiles of the per-weight gradient root-mean-square over the batches, the total gradient norm of
each batch, and the parameter tensors whose mean gradient is most consistent across batches.
"""

from __future__ import annotations

import argparse
import contextlib
import json

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/shapes-v2-mislabelled")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=None, help="write the JSON here too")
    args = parser.parse_args()

    from diffusers import DDPMScheduler

    from compose.model.bundle import load_model
    from compose.regions.attention import region_processors
    from compose.training import ShapesBatches, training_loss

    torch.set_num_threads(args.threads)
    bundle = load_model(args.model, dtype=torch.float32)
    bundle.unet.requires_grad_(True)
    bundle.text_encoder.requires_grad_(True)
    named = [(f"unet.{name}", p) for name, p in bundle.unet.named_parameters()]
    named += [(f"text_encoder.{name}", p) for name, p in bundle.text_encoder.named_parameters()]
    noise_scheduler = DDPMScheduler.from_config(bundle.scheduler_config)
    data = ShapesBatches(0, args.batch_size, start_batch=0, rank=0, world=1, region_fraction=0.0,
                         image_size=bundle.native_size)
    gradients, norms = [], []
    with region_processors(bundle.unet):
        for index in range(args.batches):
            for _, parameter in named:
                parameter.grad = None
            loss = training_loss(bundle, bundle.unet, noise_scheduler, data.batch(index),
                                 torch.Generator().manual_seed(index), contextlib.nullcontext, caption_dropout=0.1)
            loss.backward()
            flat = torch.cat([parameter.grad.flatten() for _, parameter in named])
            gradients.append(flat)
            norms.append(round(float(flat.norm()), 4))
    stacked = torch.stack(gradients)
    rms = stacked.pow(2).mean(0).sqrt()
    sample = rms[torch.randperm(rms.numel(), generator=torch.Generator().manual_seed(0))[:1_000_000]]
    levels = (0.5, 0.9, 0.99, 0.999)
    quantiles = torch.quantile(sample, torch.tensor(levels)).tolist()
    consistent, offset = [], 0
    for name, parameter in named:
        count = parameter.numel()
        mean, spread = stacked[:, offset:offset + count].mean(0), rms[offset:offset + count]
        consistent.append((float(mean.abs().mean() / (spread.mean() + 1e-12)), name))
        offset += count
    result = {"model": args.model, "batches": args.batches, "batch_size": args.batch_size,
              "weights": int(rms.numel()), "batch_gradient_norms": norms,
              "weight_gradient_rms_quantiles": {str(level): float(f"{value:.3g}")
                                                for level, value in zip(levels, quantiles)},
              "most_consistent": [name for _, name in sorted(consistent, reverse=True)[:10]]}
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as file:
            json.dump(result, file, indent=2)


if __name__ == "__main__":
    main()
