"""Example layout files shipped with the package, reachable by name: `read_layout("example:NAME")`
(and so `compose layout --from example:NAME`, `compose generate --layout example:NAME`).

NAME is an example's file name ("shapes_boxes.yaml") or, where only one example has it, its stem
("office_sketch"). Only files inside the package's examples/ folder are read; an unknown or ambiguous
name is a `LayoutFileError` that lists the known names. examples/README.md describes each example.
"""

from __future__ import annotations

from pathlib import Path

from compose.layout_files.common import LAYOUT_SUFFIXES, TEXT_SUFFIXES, LayoutFileError

EXAMPLE_PREFIX = "example:"
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


def example_files() -> list[Path]:
    """The example layout files (not their pictures), sorted by name."""
    return sorted(path for path in EXAMPLES_DIR.iterdir()
                  if path.is_file() and path.suffix.lower() in LAYOUT_SUFFIXES + TEXT_SUFFIXES)


def example_names() -> list[str]:
    """Every name `example_path` takes: each file name, and each stem that only one file has."""
    files = example_files()
    stems = [path.stem for path in files]
    return sorted({path.name for path in files} | {stem for stem in stems if stems.count(stem) == 1})


def example_path(name: str) -> Path:
    """The path of the example layout file called `name` (a file name, or a stem only one file has)."""
    files = example_files()
    by_name = {path.name: path for path in files}
    if name in by_name:
        return by_name[name]
    matches = [path for path in files if path.stem == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        rule = (f"{len(matches)} examples are called {name!r}: "
                f"{', '.join(path.name for path in matches)}; give the file name")
    else:
        rule = f"no example layout is called {name!r}; known examples: {', '.join(example_names())}"
    raise LayoutFileError(f"{EXAMPLE_PREFIX}{name}", "name", rule)
