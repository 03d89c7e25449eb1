"""The README's untraining figure: the shape confusion matrices of several audits side by side.

    python scripts/make_untraining_figure.py docs/untraining.png \
        "original=runs/audit-v2-comp/audit.json" "mislabelled=runs/audit-mislabel/audit.json" ...

Each argument is TITLE=PATH of an audit.json written by `compose audit`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def shape_matrix(audit: dict) -> tuple[list[str], list[str], np.ndarray]:
    confusion = audit["confusion"]["shape"]
    asked = list(confusion)
    drawn = list(next(iter(confusion.values())))
    return asked, drawn, np.array([[confusion[a][d] for d in drawn] for a in asked])


def main(output: str, panels: list[str]) -> None:
    audits = []
    for panel in panels:
        title, _, path = panel.partition("=")
        audits.append((title, json.loads(Path(path).read_text(encoding="utf-8"))))
    figure = Figure(figsize=(3.3 * len(audits), 3.6), dpi=100)
    axes = figure.subplots(1, len(audits), squeeze=False)[0]
    for axis, (title, audit) in zip(axes, audits):
        asked, drawn, counts = shape_matrix(audit)
        axis.imshow(counts / counts.sum(axis=1, keepdims=True).clip(min=1), cmap="Blues", vmin=0, vmax=1)
        for row in range(counts.shape[0]):
            for column in range(counts.shape[1]):
                if counts[row, column]:
                    share = counts[row, column] / max(1, counts[row].sum())
                    axis.text(column, row, str(counts[row, column]), ha="center", va="center", fontsize=7,
                              color="white" if share > 0.5 else "black")
        axis.set_xticks(range(len(drawn)), drawn, rotation=45, ha="right", fontsize=7)
        axis.set_yticks(range(len(asked)), asked, fontsize=7)
        axis.set_title(f"{title}\n{100 * audit['accuracy']:.1f}% exactly right", fontsize=8)
        axis.set_xlabel("drawn shape", fontsize=7)
    axes[0].set_ylabel("asked shape", fontsize=7)
    figure.tight_layout()
    figure.savefig(output)
    print(f"wrote {output}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    main(sys.argv[1], sys.argv[2:])
