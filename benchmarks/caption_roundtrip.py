"""Do shapes-world captions parse back to the scenes they describe? (issue 3: >= 99% of 10,000)

Usage: python benchmarks/caption_roundtrip.py [--captions 10000] [--seed 0]
Prints the exact-match share (objects, counts, attributes, locations, relations, negations) and the
first few mismatches.
"""

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--captions", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from compose.parsing import parse
    from compose.shapes.data import sample_at

    started = time.perf_counter()
    mismatches = []
    for index in range(args.captions):
        sample = sample_at(args.seed, index)
        parsed = parse(sample.caption).to_dict()
        if parsed != sample.scene.to_dict():
            mismatches.append((sample.caption, parsed, sample.scene.to_dict()))
    exact = args.captions - len(mismatches)
    print(f"{exact}/{args.captions} captions parse back exactly ({100 * exact / args.captions:.2f}%), "
          f"{time.perf_counter() - started:.1f} s")
    for caption, parsed, wanted in mismatches[:5]:
        print(f"- {caption!r}")
        for key in wanted:
            if parsed[key] != wanted[key]:
                print(f"    {key}: parsed {parsed[key]}\n    {' ' * len(key)}  wanted {wanted[key]}")


if __name__ == "__main__":
    main()
