"""Which part of a model holds a mistake: draw the audit's single-object wordings with the UNet of one model
and the text encoder of another, and count how the pictures fail.

    python scripts/audit_mixed_parts.py UNET_MODEL TEXT_MODEL [--shapes circle,square] [--sizes small]
                                        [--seeds 4] [--threads 2]

Every picture is drawn as `compose audit` draws it (the plain method, the UNet model's sampling defaults)
and read back by the detector; a picture is right when it holds exactly the asked object, else it failed
as "empty" (nothing drawn), "copies" (more than one object) or "wrong" (one object, not the asked one).
Used for issue 12: the mislabelled model's small objects go missing with its own text encoder and come back
with the original's (README, "Untraining").
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

import torch


def main() -> None:
    from compose.bench.audit import SIZE_WORDS, FAILURE_KINDS, Reading, audit_cases, prompt_text, read_drawn
    from compose.model.bundle import load_model
    from compose.shapes import world
    from compose.untraining import plain_drawer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("unet_model", help="the model folder whose UNet draws ('bundled' for the bundled one)")
    parser.add_argument("text_model", help="the model folder whose text encoder reads the prompts")
    parser.add_argument("--shapes", default=",".join(world.SHAPES), help="comma-separated (default: every shape)")
    parser.add_argument("--sizes", default="none,small,big",
                        help="comma-separated size wordings: none (no size word), small, big (default: all three)")
    parser.add_argument("--seeds", type=int, default=4, help="seeds 0..N-1 per wording (default 4)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    shapes = tuple(args.shapes.split(","))
    sizes = [None if size == "none" else size for size in args.sizes.split(",")]
    for shape in shapes:
        if shape not in world.SHAPES:
            parser.error(f"--shapes: {shape!r} is not a shape of the shapes world ({', '.join(world.SHAPES)})")
    for size in sizes:
        if size not in SIZE_WORDS:
            parser.error(f"--sizes: {size!r} is not an audit wording (none, small, big)")
    if args.seeds < 1:
        parser.error(f"--seeds {args.seeds}: give at least 1")
    torch.set_num_threads(args.threads)
    bundle = load_model(args.unet_model, dtype=torch.float32)
    if args.text_model != args.unet_model:
        reader = load_model(args.text_model, dtype=torch.float32)
        if reader.tokenizer.get_vocab() != bundle.tokenizer.get_vocab():
            raise SystemExit(f"{args.text_model}: its tokenizer is not {args.unet_model}'s; the parts do not fit")
        bundle.text_encoder = reader.text_encoder
    cases = [case for case in audit_cases(shapes, range(args.seeds)) if case[2] in sizes]
    clock = time.perf_counter()
    with torch.no_grad():
        pictures = plain_drawer(bundle, bundle.steps_or_default(None, "plain"))(
            [prompt_text(shape, colour, size) for shape, colour, size, _ in cases], [seed for *_, seed in cases])
    counts: dict[str, Counter] = {}
    for case, picture in zip(cases, pictures):
        reading = Reading(*case, *read_drawn(picture), picture)
        counts.setdefault(case[2] or "none", Counter())[reading.failure or "right"] += 1
    print(f"UNet of {args.unet_model}, text encoder of {args.text_model}; {', '.join(shapes)}; seeds 0-{args.seeds - 1}; "
          f"{len(cases)} pictures in {time.perf_counter() - clock:.0f} s")
    for size, counted in counts.items():
        total = sum(counted.values())
        kinds = ", ".join(f"{kind} {counted[kind]}" for kind in FAILURE_KINDS)
        print(f"  size word {size}: {counted['right']} of {total} right ({100 * counted['right'] / total:.1f}%); {kinds}")


if __name__ == "__main__":
    main()
