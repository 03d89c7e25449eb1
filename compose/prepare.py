"""Prompt -> scene -> layout: the one place compose parses and plans before drawing.

The Generator (and through it the CLI, the Python API and the benchmark) calls `prepare` and hands the
pipeline layouts that carry their scene; the pipeline's own `prompt=` convenience (diffusers-style calls)
comes here too, and the benchmark's ground-truth pictures use `layout_for`. So the rule of which layout a
picture is drawn in, and which scene it is judged against, is written once:
- a prompt is parsed into the scene;
- a layout given (a layout file) is kept, and carries the prompt's scene when there is a prompt, else its
  own;
- with no layout, the scene is planned with the plan seed (by default the picture's seed).
"""

from __future__ import annotations

import dataclasses
import time

from compose.scene import Layout, Scene


def layout_for(scene: Scene | None, layout: Layout | None, seed: int) -> Layout:
    """`layout` carrying `scene` when one is given, else `scene` planned with `seed`."""
    if layout is not None:
        return layout if scene is None or layout.scene is scene else dataclasses.replace(layout, scene=scene)
    from compose.planner import plan

    return plan(scene, seed=seed)


def scene_of(prompt: str, timings: dict[str, float]) -> Scene:
    """`prompt` parsed; `timings["parse"]` gains the seconds it took."""
    from compose.parsing import parse

    clock = time.perf_counter()
    scene = parse(prompt)
    timings["parse"] = timings.get("parse", 0.0) + time.perf_counter() - clock
    return scene


def prepare(prompt: str | None, layout: Layout | None, seed: int, timings: dict[str, float] | None = None) -> Layout:
    """The layout a compose picture is drawn in, its scene attached (the rule in the module docstring).
    `timings` (if given) gains the seconds of "parse" and "plan"."""
    if prompt is None and layout is None:
        raise ValueError("give a prompt or a layout file")
    timings = {} if timings is None else timings
    scene = scene_of(prompt, timings) if prompt is not None else None
    clock = time.perf_counter()
    prepared = layout_for(scene, layout, seed)
    if layout is None:
        timings["plan"] = timings.get("plan", 0.0) + time.perf_counter() - clock
    return prepared
