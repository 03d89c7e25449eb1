"""Speed of the shapes-world data stream (issue 3: >= 2000 samples/s at 64 x 64 on one core).

Usage: python benchmarks/data_speed.py [--samples N] [--size 64]
Prints samples per second for the training mix and for the uniform 1-8 object mix, in one process
with one thread, plus the same for whole training batches (ShapesBatches, images as tensors).
"""

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()

    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    from compose.shapes.data import TRAINING_MIX, DataMix, sample_at
    from compose.training import REGION_MIX, ShapesBatches

    for name, mix in (("training mix", TRAINING_MIX), ("region mix", REGION_MIX), ("uniform 1-8 objects", DataMix())):
        sample_at(0, 0, size=args.size, mix=mix)  # warm-up
        started = time.perf_counter()
        objects = 0
        for index in range(args.samples):
            objects += len(sample_at(1, index, size=args.size, mix=mix).instances)
        seconds = time.perf_counter() - started
        print(f"{name:22s} {args.samples / seconds:8.0f} samples/s  ({objects / args.samples:.2f} objects per sample)")
    batches = ShapesBatches(seed=1, batch_size=256, start_batch=0, rank=0, world=1, region_fraction=0.5,
                            image_size=args.size)
    count = max(2, args.samples // 256)
    started = time.perf_counter()
    for index in range(count):
        batches.batch(index)
    seconds = time.perf_counter() - started
    print(f"{'training batches':22s} {count * 256 / seconds:8.0f} samples/s  (batches of 256, half region-masked)")


if __name__ == "__main__":
    main()
