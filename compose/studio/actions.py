"""What the studio's page can ask for, one function per action, JSON-ready dicts in and out.

Each action is the Python API at work (`compose.parse`, `compose.plan`, the layout-file readers and
writer, `Generator`, `ShapesChecker`); the HTTP server (compose.studio.server) only carries the dicts.
Bad input raises ValueError with the message the CLI prints for the same input.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from compose.scene import Layout, Scene
from compose.studio.layouts import layout_from_page, layout_to_page
from compose.studio.relations import relation_report

MAX_STEPS = 100  # the studio's bound: a request holds the model's queue for at most a few seconds
MAX_METHODS = 4
MAX_SEED = 2**31 - 1


def png_base64(image: np.ndarray) -> str:
    """An (H, W, 3) uint8 picture as base64 PNG, for an <img src="data:image/png;base64,...">."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True)
class Drawing:
    """A checked generate request: the layout to draw (carrying its scene), or the prompt alone; the
    prompt plain reads; the methods, seed, steps, and whether to record attention maps."""

    layout: Layout | None
    prompt: str | None
    methods: tuple[str, ...]
    seed: int
    steps: int | None
    attention: bool


class Studio:
    """The studio's state on the server: one model, loaded once on first use (or by `load`), and the
    lock that keeps the parser to one caller at a time (spaCy pipelines are not shared across threads)."""

    def __init__(self, model: str | None = None, device: str = "cpu", generator=None):
        self.model = model
        self.device = device
        self._generator = generator
        self._load_lock = threading.Lock()
        self._text_lock = threading.Lock()

    # ------------------------------------------------------------------------------ model

    def load(self):
        """The model's `Generator`, loaded on first call (the parser too, so that the first keystroke
        does not wait for spaCy to load)."""
        with self._load_lock:
            if self._generator is None:
                from compose import parse
                from compose.generate import Generator

                self._generator = Generator(self.model, device=self.device)
                with self._text_lock:
                    parse("a red circle")
            return self._generator

    def info(self) -> dict[str, Any]:
        from compose.generate import METHODS
        from compose.layout_files import example_names
        from compose.studio.uploads import MAX_FILE_BYTES, MAX_FILES

        return {"model": self.model or "bundled", "methods": list(METHODS), "examples": example_names(),
                "limits": {"steps": MAX_STEPS, "files": MAX_FILES, "file_bytes": MAX_FILE_BYTES}}

    # --------------------------------------------------------------------- prompt and layout

    def scene_and_layout(self, prompt: Any, seed: Any = 0) -> dict[str, Any]:
        """Parse a prompt and plan its layout: the scene, the planned boxes and their relations."""
        from compose import parse, plan
        from compose.parsing import check_prompt

        seed = _integer(seed, "seed", 0, MAX_SEED)
        clock = time.perf_counter()
        check_prompt(prompt)  # TypeError for a non-string, as the API raises it
        with self._text_lock:
            scene = parse(prompt)
            parsed = time.perf_counter()
            layout = plan(scene, seed=seed)
        planned = time.perf_counter()
        return {**self._layout_answer(layout), "description": _describe(scene),
                "timings": {"parse": round(parsed - clock, 5), "plan": round(planned - parsed, 5)}}

    def check_layout(self, page_layout: Any) -> dict[str, Any]:
        """The edited boxes read back: the scene they show and which relations they keep or break."""
        with self._text_lock:
            layout = layout_from_page(page_layout)
        return self._layout_answer(layout)

    def open_files(self, uploads) -> dict[str, Any]:
        """A layout file of any format in compose/specs/layout-files.md, uploaded as bytes
        (`compose.studio.uploads.Upload`s)."""
        from compose.studio.uploads import read_uploaded_layout

        return self._opened(read_uploaded_layout(list(uploads)))

    def open_example(self, name: Any) -> dict[str, Any]:
        """One of the example layouts shipped with the package (`example:NAME`)."""
        from compose.layout_files import EXAMPLE_PREFIX, example_names, read_layout

        if not isinstance(name, str) or name not in example_names():
            raise ValueError(f"example {name!r}: no example layout is called that; known examples: "
                             f"{', '.join(example_names())}")
        return self._opened(read_layout(EXAMPLE_PREFIX + name))

    def painted_sketch(self, picture_base64: Any, legend: Any, prompt: Any = None) -> dict[str, Any]:
        """Regions painted with the page's brush: a PNG and its legend {colour: phrase}, read by the
        sketch reader (compose/specs/layout-files.md, section 2)."""
        from compose.studio.layouts import page_object
        from compose.studio.uploads import MAX_FILE_BYTES, read_painted_sketch

        if not isinstance(picture_base64, str) or len(picture_base64) > MAX_FILE_BYTES * 4 // 3 + 4:
            raise ValueError(f"the painted sketch must be a PNG of at most {MAX_FILE_BYTES:,} bytes")
        picture = _decode_base64(picture_base64, "the painted sketch")
        layout = read_painted_sketch(picture, legend, prompt if isinstance(prompt, str) else None)
        return {"objects": [page_object(region) for region in layout.regions]}

    def save_layout(self, page_layout: Any, syntax: Any = "json") -> dict[str, Any]:
        """The layout as a compose.layout/v1 file (JSON or YAML): its text and a file name."""
        from compose.layout_files import layout_to_text

        if syntax not in ("json", "yaml"):
            raise ValueError(f"syntax {syntax!r}: save as 'json' or 'yaml'")
        with self._text_lock:
            layout = layout_from_page(page_layout)
        text = layout_to_text(layout, syntax=syntax)
        return {"text": text, "filename": f"layout.{syntax}"}

    # ------------------------------------------------------------------------------ generate

    def generate(self, request: dict[str, Any]) -> dict[str, Any]:
        """Draw the layout (or the prompt) with each method asked for, side by side, and read each
        picture back. `request`: layout (the page's), prompt, methods, seed, steps, attention."""
        return self.draw(self.prepare(request))

    def prepare(self, request: Any) -> Drawing:
        """Check a generate request and read its layout, before it waits for the model: every input
        error (and a request over the world's limits, with the planner's own message) is told at once."""
        from compose.parsing import check_prompt
        from compose.planning.prechecks import check_world_limit
        from compose.planning.rules import is_shapes_scene

        if not isinstance(request, dict):
            raise ValueError("a generate request is a JSON object: layout, prompt, methods, seed, steps, attention")
        methods = tuple(_methods(request.get("methods", ["compose", "plain"])))
        seed = _integer(request.get("seed", 0), "--seed", 0, MAX_SEED)
        steps = request.get("steps")  # none: the model's own default (shapes-v3: 2)
        steps = None if steps is None else _integer(steps, "--steps", 1, MAX_STEPS)
        prompt = request.get("prompt")
        page_layout = request.get("layout")
        if prompt is not None:
            check_prompt(prompt)
        layout = None
        if isinstance(page_layout, dict) and page_layout.get("objects"):
            with self._text_lock:
                layout = layout_from_page(page_layout)
            check_world_limit(layout.scene, is_shapes_scene(layout.scene))
            prompt = prompt or layout.prompt or layout.scene.prompt or None
        elif prompt is None:
            raise ValueError("give a prompt or a layout file")
        else:
            from compose import parse, plan

            with self._text_lock:
                plan(parse(prompt))  # the parser's and planner's errors, before the model's queue
        return Drawing(layout=layout, prompt=prompt, methods=methods, seed=seed, steps=steps,
                       attention=bool(request.get("attention", False)))

    def draw(self, drawing: Drawing) -> dict[str, Any]:
        """Draw a prepared request with the model (the server runs this in the model's queue)."""
        generator = self.load()
        clock = time.perf_counter()
        pictures = [self._draw(generator, method, drawing) for method in drawing.methods]
        return {"pictures": pictures, "seconds": round(time.perf_counter() - clock, 4)}

    def _draw(self, generator, method: str, drawing: Drawing) -> dict[str, Any]:
        layout, prompt, seed, steps, attention = (drawing.layout, drawing.prompt, drawing.seed, drawing.steps,
                                                  drawing.attention)
        if method == "plain":
            result = generator(prompt=prompt, layout=layout, method="plain", seed=seed, steps=steps,
                               attention=attention)
        else:
            result = generator(prompt=None if layout is not None else prompt, layout=layout, method=method,
                               seed=seed, steps=steps, attention=attention)
        scene = layout.scene if layout is not None else result.scene
        drawn_layout = layout if layout is not None else result.layout
        record = result.to_dict()
        checked = check_picture(result.image, scene, drawn_layout)
        record["check"] = checked
        return {"method": method, "image": png_base64(result.image), "record": record, "check": checked,
                "attention": attention_maps(result.image, result.attention) if result.attention is not None else []}

    # ------------------------------------------------------------------------------ helpers

    def _opened(self, layout: Layout) -> dict[str, Any]:
        """A layout read from a file, tied to the scene of its prompt where it has one."""
        from compose import parse

        scene = None
        if layout.prompt:
            try:
                with self._text_lock:
                    scene = parse(layout.prompt)
            except ValueError:
                scene = None  # a caption the parser cannot read: each box is then its own object
        page = layout_to_page(layout, scene)
        with self._text_lock:
            tied = layout_from_page(page)
        return self._layout_answer(tied)

    def _layout_answer(self, layout: Layout) -> dict[str, Any]:
        """A layout whose regions are tied to its scene, as the page shows it."""
        page = layout_to_page(layout)
        return {"scene": page["scene"], "layout": page, "relations": relation_report(layout),
                "limit": _limit_problem(layout.scene)}


def check_picture(image: np.ndarray, scene: Scene | None, layout: Layout | None) -> dict[str, Any]:
    """What the shapes world's checker reads back from a picture: each layout object right or wrong,
    the detections, and the scorer's reasons (compose.checking.ShapesChecker)."""
    from compose.checking import ShapesChecker
    from compose.planning.rules import is_shapes_scene
    from compose.shapes.detect import detect

    if scene is None or layout is None or not layout.regions:
        return {"available": False, "reason": "nothing to check against: the scene names no object"}
    if not is_shapes_scene(scene):
        return {"available": False, "reason": "the checker reads the shapes world only (circle, square, "
                "triangle, diamond, star); this scene names other things"}
    try:
        check = ShapesChecker().check(image, scene, layout)
    except ValueError as error:
        return {"available": False, "reason": " ".join(str(error).split())}
    wrong = {problem.region for problem in check.problems if problem.region is not None}
    return {
        "available": True, "passed": check.passed,
        "objects": [{"index": index, "phrase": region.phrase, "right": index not in wrong}
                    for index, region in enumerate(layout.regions)],
        "extras": [problem.to_dict() for problem in check.problems if problem.region is None],
        "detections": [item.to_dict() for item in detect(image)],
        "details": list(check.details),
    }


def attention_maps(image: np.ndarray, maps) -> list[dict[str, Any]]:
    """Each object's cross-attention map over the picture (as `compose explain` draws it: the inferno
    colour map, 55% over the picture), with its in-region share."""
    import matplotlib

    colormap = matplotlib.colormaps["inferno"]
    shown = []
    for attention, phrase, share in zip(maps.objects, maps.phrases, maps.in_region):
        peak = float(attention.max()) or 1.0
        heat = colormap(attention / peak)[..., :3]
        blend = (0.45 * image / 255.0 + 0.55 * heat).clip(0, 1)
        shown.append({"phrase": phrase, "in_region": None if share is None else round(float(share), 4),
                      "image": png_base64((blend * 255).round().astype(np.uint8))})
    return shown


def _limit_problem(scene: Scene | None) -> str | None:
    """The world's limit on objects, as the planner words it, when the boxes exceed it (else None)."""
    from compose.planning.prechecks import check_world_limit
    from compose.planning.rules import is_shapes_scene

    if scene is None or not scene.objects:
        return None
    try:
        check_world_limit(scene, is_shapes_scene(scene))
    except ValueError as error:
        return str(error)
    return None


def _describe(scene: Scene) -> str:
    from compose.cli import describe_scene

    return describe_scene(scene)


def _methods(value: Any) -> list[str]:
    from compose.generate import METHODS

    if not isinstance(value, list) or not value or len(value) > MAX_METHODS:
        raise ValueError(f"methods {value!r}: give 1 to {MAX_METHODS} methods, e.g. ['compose', 'plain']")
    for method in value:
        if method not in METHODS:
            raise ValueError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    if len(set(value)) != len(value):
        raise ValueError(f"methods {value!r}: each method once")
    return value


def _integer(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} {value!r}: give a whole number from {low} to {high}")
    return value


def _decode_base64(text: str, what: str) -> bytes:
    import binascii

    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what}: not valid base64 data") from None
