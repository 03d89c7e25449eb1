"""How fast the prompt parser is, in one process: prompts per second after the pipeline is built.

The prompts are the gold sets (tests/gold_prompts.jsonl, gold_heldout.jsonl and issue 14's
gold_field.jsonl with its must-fail prompts, which are timed as they are rejected) plus random
shapes-world captions (benchmarks/parse_accuracy.py), parsed `--rounds` times over. The one-off cost of
the first call (importing spaCy, building the tokenizer and matchers) is reported apart. Target (compose
issue 14): >= 5,000 prompts/s in one process on the project's 2-core CPU machine.

Run:  .venv/bin/python benchmarks/parse_speed.py [--captions 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _accuracy_module():
    spec = importlib.util.spec_from_file_location("parse_accuracy", ROOT / "benchmarks" / "parse_accuracy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captions", type=int, default=2000, help="random captions added to the gold prompts")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over all prompts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    accuracy = _accuracy_module()
    rng = random.Random(args.seed)
    gold = [accuracy.GOLD_PATH, accuracy.HELDOUT_PATH, accuracy.FIELD_PATH, accuracy.FIELD_ERRORS_PATH]
    prompts = [entry["prompt"] for path in gold for entry in accuracy.load_gold(path)]
    prompts += [accuracy.random_caption(rng)[0] for _ in range(args.captions)]
    words = sum(len(prompt.split()) for prompt in prompts) / len(prompts)

    start = time.perf_counter()
    from compose.parsing import parse

    parse("a red circle")
    print(f"first call (import spaCy, build the pipeline): {time.perf_counter() - start:.2f} s")

    rates = []
    for _round in range(args.rounds):
        start = time.perf_counter()
        for prompt in prompts:
            try:
                parse(prompt)
            except ValueError:
                pass  # a must-fail prompt: rejecting it is part of the work timed
        elapsed = time.perf_counter() - start
        rates.append(len(prompts) / elapsed)
    print(f"{len(prompts)} prompts (mean {words:.1f} words) x {args.rounds} rounds: "
          f"median {statistics.median(rates):,.0f} prompts/s (min {min(rates):,.0f}, max {max(rates):,.0f}), "
          f"{1000 / statistics.median(rates):.2f} ms per prompt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
