"""How long the closed-form key/value edit takes (issue 12: <= 5 s on the CPU).

Loads a model once per repeat (the edit changes it in place), then times `compose.editing.edit_concepts`
alone: encoding the source, target and preserved texts, one linear solve, and the write into every
cross-attention key and value projection. Reports the median of `--repeats` edits. Run it on an
otherwise idle machine.

Run from the repository root:
    PYTHONPATH=. .venv/bin/python benchmarks/closed_form_edit.py --mapping star= --out benchmarks/results/closed-form-edit.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="'bundled' (default) or a model folder")
    parser.add_argument("--mapping", default="star=", help="OLD=NEW[,OLD=NEW]; NEW empty erases (default star=)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args()

    import torch

    from compose.editing import edit_concepts
    from compose.model.bundle import load_model

    mapping = dict(item.split("=", 1) for item in args.mapping.split(","))
    seconds = []
    for _ in range(args.repeats):
        bundle = load_model(args.model)
        seconds.append(edit_concepts(bundle, mapping).seconds)
    result = {"benchmark": "closed_form_edit", "model": args.model or "bundled", "mapping": mapping,
              "threads": torch.get_num_threads(), "machine": platform.processor() or platform.machine(),
              "median_seconds": round(statistics.median(seconds), 4), "all_seconds": [round(s, 4) for s in seconds]}
    print(json.dumps(result, indent=2))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
