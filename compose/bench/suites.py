"""Benchmark suites: the prompts (and layout files) of each category, read into scenes and checked.

compose/specs/benchmark.md (benchmark v1.1) names nine categories. Eight are prompt files, one prompt per line,
shipped with the package as compose/bench/suites_data/<category>.txt (the same format `compose generate
--prompts` reads); the ninth, `layout`, is a folder of layout files (suites_data/layout/*.json|yaml|yml,
compose.layout/v1 or compose.sketch/v1) whose `prompt` names every object, so that the scene to score is
parse(prompt). compose/bench/suites_data/README.md describes each suite.

A layout file's regions name phrases ("a red circle"), not scene groups; `bind_layout` ties each region
to the object group it draws by reading the phrase with the parser and matching its noun, then its
colour, then its size, so that the scorer can check each object against its own region.

`ground_truth_image` renders what a perfect generator would draw for a scene and a layout; the
benchmark's detector self-check scores these renders before any method runs (compose/specs/benchmark.md,
"Running": the detector must score 100% on them).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from compose.scene import Layout, Scene

logger = logging.getLogger(__name__)

PROMPT_CATEGORIES = ("single", "two_object", "counting", "colors", "position", "negation", "complex", "crowded")
LAYOUT_CATEGORY = "layout"
CATEGORIES = PROMPT_CATEGORIES + (LAYOUT_CATEGORY,)
LAYOUT_FILE_SUFFIXES = (".json", ".yaml", ".yml")


def suites_dir() -> Path:
    """Where the project's suites live: suites_data/ inside this package (package data, so that
    `compose bench` finds them from any folder after `pip install .`)."""
    return Path(__file__).resolve().parent / "suites_data"


@dataclass(frozen=True)
class SuiteItem:
    """One thing to draw: a prompt (and, in the layout category, the layout it must be drawn in).

    `index` is the prompt's position in its suite (0-based), stable across runs and used in results
    and image names; `layout` is None for prompt suites and the bound layout (every region tied to a
    group) for layout suites; `source` is the file the item was read from."""

    suite: str
    index: int
    prompt: str
    scene: Scene
    layout: Layout | None = None
    source: str = ""


@dataclass(frozen=True)
class Suite:
    """A named list of items: one category of the benchmark, or a user's own prompt file or folder."""

    name: str
    items: tuple[SuiteItem, ...]
    path: str

    @property
    def is_layout(self) -> bool:
        return any(item.layout is not None for item in self.items)


def load_suites(names: list[str] | tuple[str, ...] | None = None, limit: int | None = None) -> list[Suite]:
    """Read suites by category name (the package's suites, `suites_dir()`) or by path; None or [] means
    every category.

    A name is a category (`single` ... `complex`, `layout`), a prompt file (.txt, one prompt per
    line), a folder of layout files, or one layout file. `limit` keeps the first N items of each suite
    (smoke runs). Raises ValueError naming the suite and the fix for an unknown name, an empty suite, a
    prompt that does not parse, or a layout file whose regions cannot be tied to its prompt's groups."""
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit {limit!r}: give a whole number of prompts per suite >= 1, or None for all")
    names = list(names) if names else list(CATEGORIES)
    suites: list[Suite] = []
    seen: set[str] = set()
    for name in names:
        suite = load_suite(name, limit=limit)
        if suite.name in seen:
            raise ValueError(f"suite {name!r} is named twice (as {suite.name!r}); name each suite once")
        seen.add(suite.name)
        suites.append(suite)
    return suites


def load_suite(name: str, limit: int | None = None) -> Suite:
    """Read one suite (see `load_suites`)."""
    path = _suite_path(name)
    if path.is_dir():
        files = sorted(file for file in path.iterdir() if file.suffix.lower() in LAYOUT_FILE_SUFFIXES)
        if not files:
            raise ValueError(f"suite {name!r}: folder {path} holds no layout files (.json, .yaml, .yml)")
        items = [layout_item(path.name, index, file) for index, file in enumerate(files[:limit])]
        return Suite(name=path.name, items=tuple(items), path=str(path))
    if path.suffix.lower() in LAYOUT_FILE_SUFFIXES:
        return Suite(name=path.stem, items=(layout_item(path.stem, 0, path),), path=str(path))
    return Suite(name=path.stem, items=tuple(prompt_items(path, path.stem, limit)), path=str(path))


def _suite_path(name: str) -> Path:
    if name in PROMPT_CATEGORIES:
        path = suites_dir() / f"{name}.txt"
    elif name == LAYOUT_CATEGORY:
        path = suites_dir() / LAYOUT_CATEGORY
    else:
        path = Path(name).expanduser()
        if not path.exists():
            raise ValueError(f"suite {name!r}: not a category ({', '.join(CATEGORIES)}) and no such file or "
                             "folder; give a category, a prompt file (.txt) or a folder of layout files")
        return path
    if not path.exists():
        raise ValueError(f"suite {name!r}: the project's suite {path} is missing; the benchmark suites ship "
                         "with the package (compose/bench/suites_data/): reinstall compose, or give a path")
    return path


def prompt_items(path: Path, suite: str, limit: int | None = None) -> list[SuiteItem]:
    """The prompts of a prompt file (blank lines skipped), each parsed into its scene."""
    from compose.parsing import parse

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"suite {suite!r}: cannot read {path} ({error})") from error
    items: list[SuiteItem] = []
    for line_number, line in enumerate(lines, start=1):
        prompt = line.strip()
        if not prompt:
            continue
        if limit is not None and len(items) >= limit:
            break
        try:
            scene = parse(prompt)
        except ValueError as error:
            raise ValueError(f"{path}:{line_number}: {error}") from error
        items.append(SuiteItem(suite=suite, index=len(items), prompt=prompt, scene=scene, source=str(path)))
    if not items:
        raise ValueError(f"suite {suite!r}: {path} holds no prompts; write one prompt per line")
    return items


def layout_item(suite: str, index: int, path: Path) -> SuiteItem:
    """A layout file as a suite item: the scene of its prompt, and its regions tied to that scene."""
    from compose.layout_files import read_layout
    from compose.parsing import parse

    layout = read_layout(path)
    if not layout.prompt:
        raise ValueError(f"{path}: a benchmark layout needs a 'prompt' naming every object (e.g. "
                         f"\"{' and '.join(region.phrase for region in layout.regions)}\"), so it can be scored")
    scene = parse(layout.prompt)
    return SuiteItem(suite=suite, index=index, prompt=layout.prompt, scene=scene,
                     layout=bind_layout(scene, layout, source=str(path)), source=str(path))


def bind_layout(scene: Scene, layout: Layout, source: str = "layout") -> Layout:
    """Tie every region of a layout to the scene group it draws (Region.group, Region.instance).

    Each region's phrase is parsed ("a red circle" -> noun circle, colour red) and matched to the
    groups with that noun; among several, the colour decides, then the size. Every group must get
    exactly as many regions as its count ("two blue squares": two regions). Raises ValueError naming
    the file, the region and the groups when a phrase matches no group, several equally, or the
    numbers of regions and objects differ."""
    from compose.parsing import parse

    members: dict[int, int] = {}
    regions = []
    for number, region in enumerate(layout.regions):
        try:
            phrase_scene = parse(region.phrase)
        except ValueError as error:
            raise ValueError(f"{source}: region {number} ({region.phrase!r}) cannot be read: {error}") from error
        if len(phrase_scene.objects) != 1 or phrase_scene.objects[0].count != 1:
            raise ValueError(f"{source}: region {number} ({region.phrase!r}) must name one object, like "
                             "\"a red circle\"")
        group = _matching_group(scene, phrase_scene.objects[0], number, region.phrase, source)
        regions.append(replace(region, group=group.id, instance=members.get(group.id, 0)))
        members[group.id] = members.get(group.id, 0) + 1
    for group in scene.objects:
        if members.get(group.id, 0) != group.count:
            raise ValueError(f"{source}: the prompt asks for {group.count} of {group.phrase!r} but the layout "
                             f"has {members.get(group.id, 0)} region(s) for it; give one region per object")
    return replace(layout, regions=tuple(regions), scene=scene)


def _matching_group(scene: Scene, wanted, number: int, phrase: str, source: str):
    candidates = [group for group in scene.objects if group.noun == wanted.noun]
    for attribute in ("color", "size"):
        value = getattr(wanted, attribute)
        if value is None:
            continue
        compatible = [group for group in candidates if getattr(group, attribute) in (value, None)]
        exact = [group for group in compatible if getattr(group, attribute) == value]
        candidates = exact or compatible
    if len(candidates) != 1:
        groups = "; ".join(f"[{group.id}] {group.phrase!r}" for group in scene.objects)
        problem = "matches none" if not candidates else "matches several"
        raise ValueError(f"{source}: region {number} ({phrase!r}) {problem} of the prompt's object groups "
                         f"({groups}); name each region by its group's shape and colour")
    return candidates[0]


def ground_truth_image(scene: Scene, layout: Layout, size: int = 64):
    """Render what a perfect picture of `scene` drawn in `layout` looks like (uint8 RGB, size x size).

    Each region is drawn as its group's shape in its box; a group with no colour is drawn in the first
    palette colour that no negation forbids and no coloured group of the same shape uses, so that the
    render is itself correct."""
    from compose.shapes import world
    from compose.shapes.render import ShapeInstance, render

    colors = {group.id: group.color or _free_color(scene, group) for group in scene.objects}
    instances = []
    for region in layout.regions:
        group = scene.group(region.group)
        instances.append(ShapeInstance(group.noun, colors[group.id], region.box))
    if any(item.shape not in world.SHAPES for item in instances):
        raise ValueError(f"scene {scene.prompt!r} names things that are not shapes-world shapes "
                         f"({', '.join(world.SHAPES)}); only shapes scenes have a ground truth")
    return render(instances, size)


def _free_color(scene: Scene, group) -> str:
    from compose.shapes import world
    from compose.shapes.score import GENERIC_NOUNS

    taken = {other.color for other in scene.objects if other.noun == group.noun and other.color}
    for color in world.PALETTE:
        forbidden = any(negation.noun in (None, group.noun) + GENERIC_NOUNS and negation.color in (None, color)
                        for negation in scene.negations)
        if color not in taken and not forbidden:
            return color
    raise ValueError(f"scene {scene.prompt!r}: every colour of {group.phrase!r} is forbidden or taken; "
                     "no picture can show it")
