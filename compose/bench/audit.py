"""`compose audit MODEL`: find what a model gets wrong, concept by concept, read back exactly (issue 12).

1. Draw every shape x colour of the shapes world (compose/specs/shapes-world.md), with no size word, "small" and
   "big", over several seeds, with the plain method (the whole prompt: what the model itself learned);
   optionally a compositional sample (the first prompts of the two_object and counting suites with the
   compose method).
2. Read each picture back with the detector: the object drawn is the only detection, or the largest of
   several (then the picture also shows extras), or none.
3. Report a confusion matrix per attribute (asked shape -> drawn shape, asked colour -> drawn colour,
   "none" for an empty picture), each concept's accuracy (a shape over every colour and size word, a
   colour over every shape, a shape x colour pair; a picture is right when it holds exactly the asked
   object; "size:small" and "size:big", every shape and colour asked with that size word) with a 95% Wilson
   interval and its failures by kind (empty, copies, wrong), and flag every concept below `threshold`.
Output: `AuditReport` (JSON-ready), and `write_audit` writes audit.json and audit.html (matrices as
pictures, a grid of the failed pictures).
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from compose.files import write_atomically

SIZE_WORDS = (None, "small", "big")
COMPOSITIONAL_SUITES = ("two_object", "counting")
NONE = "none"
FAILURE_KINDS = ("empty", "copies", "wrong")


def prompt_text(shape: str, color: str, size: str | None) -> str:
    """"a small red circle": the wording of every audit (and single-object bar) prompt."""
    return " ".join(word for word in ("a", size, color, shape) if word)


def named_shapes(text: str) -> list[str]:
    """Comma-separated shape names ("diamond,star"), each checked against the shapes world's."""
    from compose.shapes import world

    shapes = text.split(",")
    for shape in shapes:
        if shape not in world.SHAPES:
            raise ValueError(f"{shape!r} is not a shape (the shapes world has {', '.join(world.SHAPES)})")
    return shapes


def audit_cases(shapes, seeds) -> list[tuple[str, str, str | None, int]]:
    """(shape, colour, size word, seed) of each single-object audit picture: every one of `shapes` in every
    palette colour and size wording, at each of `seeds`."""
    from compose.shapes import world

    return [(shape, color, size, seed) for shape in shapes for color in world.PALETTE for size in SIZE_WORDS
            for seed in seeds]


def wilson_interval(successes: int, trials: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (Wilson 1927): sound at 0 and 1 and for few trials."""
    if trials == 0:
        return (0.0, 1.0)
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Reading:
    """One audit picture: what was asked and what was drawn."""

    shape: str
    color: str
    size: str | None
    seed: int
    drawn_shape: str
    drawn_color: str
    objects: int
    image: np.ndarray = field(repr=False, compare=False)

    @property
    def correct(self) -> bool:
        return self.objects == 1 and (self.drawn_shape, self.drawn_color) == (self.shape, self.color)

    @property
    def failure(self) -> str | None:
        """None for a right picture, else how it failed (`failure_kind`)."""
        return None if self.correct else failure_kind(self.objects)


def failure_kind(objects: int) -> str:
    """How a failed picture with `objects` detections failed: "empty" (nothing drawn), "copies" (more than
    one object) or "wrong" (one object, not the asked one)."""
    return "empty" if objects == 0 else "copies" if objects > 1 else "wrong"


@dataclass
class AuditReport:
    model: str
    readings: list[Reading]
    threshold: float
    compositional: dict[str, dict] = field(default_factory=dict)

    def confusion(self, attribute: str) -> dict[str, dict[str, int]]:
        """asked -> drawn -> count, for attribute "shape" or "color"."""
        from compose.shapes import world

        names = world.SHAPES if attribute == "shape" else tuple(world.PALETTE)
        matrix = {asked: {drawn: 0 for drawn in (*names, NONE)} for asked in names}
        for reading in self.readings:
            matrix[getattr(reading, attribute)][getattr(reading, f"drawn_{attribute}")] += 1
        return matrix

    def concepts(self) -> dict[str, dict]:
        """Each concept's accuracy, interval, flag and failures by kind: "shape:circle", "color:red",
        "pair:red circle", and "size:small" / "size:big" (every shape and colour asked with that size word)."""
        groups: dict[str, list[Reading]] = {}
        for reading in self.readings:
            keys = [f"shape:{reading.shape}", f"color:{reading.color}", f"pair:{reading.color} {reading.shape}"]
            if reading.size:
                keys.append(f"size:{reading.size}")
            for key in keys:
                groups.setdefault(key, []).append(reading)
        result = {}
        for key, readings in groups.items():
            right = sum(reading.correct for reading in readings)
            low, high = wilson_interval(right, len(readings))
            accuracy = right / len(readings)
            kinds = [reading.failure for reading in readings]
            result[key] = {"accuracy": round(accuracy, 4), "pictures": len(readings), "interval": [round(low, 4), round(high, 4)],
                           "flagged": accuracy < self.threshold,
                           "failures": {kind: kinds.count(kind) for kind in FAILURE_KINDS}}
        return result

    def to_dict(self) -> dict:
        correct = sum(reading.correct for reading in self.readings)
        return {"format": "compose.audit/v1", "model": self.model, "threshold": self.threshold,
                "seeds": sorted({reading.seed for reading in self.readings}),
                "pictures": len(self.readings), "correct": correct,
                "accuracy": round(correct / len(self.readings), 4) if self.readings else None,
                "confusion": {"shape": self.confusion("shape"), "color": self.confusion("color")},
                "concepts": self.concepts(),
                "flagged": sorted(key for key, value in self.concepts().items() if value["flagged"]),
                "compositional": self.compositional,
                "failures": [{"prompt": prompt_text(r.shape, r.color, r.size), "seed": r.seed, "drawn_shape": r.drawn_shape,
                              "drawn_color": r.drawn_color, "objects": r.objects} for r in self.readings if not r.correct]}


def read_drawn(image: np.ndarray) -> tuple[str, str, int]:
    """(shape, colour, objects) of a picture: its only or largest detection, or ("none", "none", 0)."""
    from compose.shapes.detect import detect

    found = detect(image)
    if not found:
        return NONE, NONE, 0
    largest = max(found, key=lambda item: (item.box[2] - item.box[0]) * (item.box[3] - item.box[1]))
    return largest.shape, largest.color, len(found)


def audit(model: str | None = None, seeds: int = 4, steps: int | None = None, guidance: float | None = None,
          threshold: float = 0.8, compositional: int = 0, generator=None, progress: bool = False,
          first_seed: int = 0) -> AuditReport:
    """Audit `model` (see the module docstring) at seeds first_seed .. first_seed + seeds - 1 (a later
    first_seed: seeds that an audit from 0 never drew, for a held-out check); `compositional`: prompts per
    compositional suite (0: none). `generator`: a loaded compose.generate.Generator to reuse (else one is
    loaded for `model`)."""
    from compose.shapes import world

    if seeds < 1:
        raise ValueError(f"--seeds {seeds}: give at least 1")
    if first_seed < 0:
        raise ValueError(f"--first-seed {first_seed}: give 0 or more")
    if not 0 < threshold <= 1:
        raise ValueError(f"--threshold {threshold}: give an accuracy in (0, 1]")
    if compositional < 0:
        raise ValueError(f"--compositional {compositional}: give 0 (none) or more prompts per suite")
    if generator is None:
        from compose.generate import Generator

        generator = Generator(model)
    # steps and guidance None: each method at the model's own defaults (the plain method's, when it names them).
    seed_range = range(first_seed, first_seed + seeds)
    readings = read_cases(generator, audit_cases(world.SHAPES, seed_range), steps, guidance, progress)
    report = AuditReport(model=str(model or "bundled"), readings=readings, threshold=threshold)
    if compositional:
        report.compositional = _compositional(generator, compositional, seed_range, steps, guidance)
    return report


def read_cases(generator, cases, steps: int | None = None, guidance: float | None = None,
               progress: bool = False) -> list[Reading]:
    """Draw each (shape, colour, size word, seed) of `cases` with the plain method, one picture at a time, and
    read it back: the audit's single-object pictures (the checkout's audit_shapes script draws a few shapes'
    this way)."""
    from tqdm.auto import tqdm

    readings = []
    for shape, color, size, seed in tqdm(cases, desc="audit", unit="picture", disable=not progress):
        image = generator(prompt=prompt_text(shape, color, size), method="plain", seed=seed, steps=steps,
                          guidance=guidance).image
        drawn_shape, drawn_color, objects = read_drawn(image)
        readings.append(Reading(shape, color, size, seed, drawn_shape, drawn_color, objects, image))
    return readings


def _compositional(generator, per_suite: int, seeds: range, steps: int | None, guidance: float | None) -> dict:
    from compose.bench.suites import load_suite
    from compose.shapes.detect import detect
    from compose.shapes.score import score

    result = {}
    for name in COMPOSITIONAL_SUITES:
        verdicts = [score(item.scene, detect(generator(prompt=item.prompt, method="compose", seed=seed, steps=steps,
                                                       guidance=guidance).image)).correct_strict
                    for item in load_suite(name, limit=per_suite).items for seed in seeds]
        low, high = wilson_interval(sum(verdicts), len(verdicts))
        result[name] = {"accuracy": round(sum(verdicts) / len(verdicts), 4), "pictures": len(verdicts),
                        "interval": [round(low, 4), round(high, 4)]}
    return result


def write_audit(report: AuditReport, folder: str | Path) -> Path:
    """audit.json and audit.html (confusion matrices as pictures, per-concept table, failure grid) in folder."""
    folder = Path(folder)
    data = report.to_dict()
    write_atomically(folder / "audit.json", json.dumps(data, indent=2) + "\n", make_parents=True)
    rows = "".join(f"<tr class='{'flag' if value['flagged'] else ''}'><td>{html.escape(key)}</td>"
                   f"<td>{100 * value['accuracy']:.1f}%</td><td>{100 * value['interval'][0]:.0f}-"
                   f"{100 * value['interval'][1]:.0f}%</td><td>{value['pictures']}</td>"
                   + "".join(f"<td>{value['failures'][kind]}</td>" for kind in FAILURE_KINDS) + "</tr>"
                   for key, value in sorted(data["concepts"].items()))
    compositional = "".join(f"<li>{html.escape(name)}: {100 * value['accuracy']:.1f}% of {value['pictures']} "
                            f"(95% {100 * value['interval'][0]:.0f}-{100 * value['interval'][1]:.0f}%)</li>"
                            for name, value in data["compositional"].items())
    page = f"""<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>compose audit</title>
<style>body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;
padding:2px 8px}} tr.flag td{{background:#fed7d7}} img{{image-rendering:pixelated}}</style></head><body>
<h1>Audit of {html.escape(report.model)}</h1>
<p>{data['correct']} of {data['pictures']} single-object pictures exactly right ({100 * (data['accuracy'] or 0):.1f}%);
flagged below {100 * report.threshold:.0f}%: {html.escape(', '.join(data['flagged']) or 'none')}.</p>
<h2>Confusion</h2><img alt='confusion matrices' src='data:image/png;base64,{_matrices_png(report)}'>
<h2>Concepts</h2><p>Failures by kind: empty (nothing drawn), copies (more than one object), wrong (one object,
not the asked one).</p>
<table><tr><th>concept</th><th>accuracy</th><th>95% interval</th><th>pictures</th><th>empty</th><th>copies</th>
<th>wrong</th></tr>{rows}</table>
{'<h2>Compositional sample (compose method)</h2><ul>' + compositional + '</ul>' if compositional else ''}
<h2>Failures</h2>{_failure_grid(report)}</body></html>
"""
    write_atomically(folder / "audit.html", page)
    return folder


def _matrices_png(report: AuditReport) -> str:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.4), dpi=90)
    for axis, attribute in zip(figure.subplots(1, 2), ("shape", "color")):
        matrix = report.confusion(attribute)
        asked = list(matrix)
        drawn = list(next(iter(matrix.values())))
        values = np.array([[matrix[a][d] for d in drawn] for a in asked], dtype=float)
        shares = values / np.maximum(values.sum(axis=1, keepdims=True), 1)
        axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        axis.set_xticks(range(len(drawn)), drawn, rotation=45, ha="right")
        axis.set_yticks(range(len(asked)), asked)
        axis.set(xlabel=f"drawn {attribute}", ylabel=f"asked {attribute}", title=f"{attribute}: asked -> drawn")
        for row in range(len(asked)):
            for column in range(len(drawn)):
                if values[row, column]:
                    axis.text(column, row, int(values[row, column]), ha="center", va="center", fontsize=7,
                              color="white" if shares[row, column] > 0.5 else "black")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _failure_grid(report: AuditReport, limit: int = 120) -> str:
    from PIL import Image

    cells = []
    for reading in [r for r in report.readings if not r.correct][:limit]:
        buffer = io.BytesIO()
        Image.fromarray(reading.image).resize((96, 96), Image.NEAREST).save(buffer, format="PNG")
        caption = (f"{prompt_text(reading.shape, reading.color, reading.size)} s{reading.seed} -> "
                   f"{reading.drawn_color} {reading.drawn_shape}" + (f" (+{reading.objects - 1})" if reading.objects > 1 else ""))
        cells.append(f"<figure style='display:inline-block;margin:4px;width:110px;font-size:10px'>"
                     f"<img src='data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}' alt=''>"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    return "".join(cells) or "<p>none</p>"
