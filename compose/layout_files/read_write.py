"""Reading and writing layout files of every kind: the reader is chosen by the file's extension and
its `format` key (compose/specs/layout-files.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from compose.files import write_atomically
from compose.layout_files.boxes import dump_json, layout_to_dict, read_box_document
from compose.layout_files.common import (
    DEFAULT_COLOR_TOLERANCE, LAYOUT_SUFFIXES, PICTURE_SUFFIXES, SKETCH_FORMAT, TEXT_SUFFIXES, LayoutFileError,
    check_string_keys, kind_of, show_value,
)
from compose.layout_files.documents import load_document, read_text
from compose.layout_files.examples import EXAMPLE_PREFIX, example_path
from compose.layout_files.lmd import parse_lmd_text
from compose.layout_files.sketch import read_sketch_document
from compose.scene import LAYOUT_FORMAT, Layout


def read_layout(path: str | os.PathLike, *, color_tolerance: float = DEFAULT_COLOR_TOLERANCE) -> Layout:
    """Read a layout file of any kind in compose/specs/layout-files.md.

    `.json`, `.yaml` and `.yml` files are `compose.layout/v1` or `compose.sketch/v1` (their `format`
    key says which); `.txt` files are LMD-style text. "example:NAME" reads an example shipped with the
    package (compose.layout_files.examples). `color_tolerance` is how far (RGB distance) a sketch pixel
    may be from its legend colour. Raises `LayoutFileError` for any malformed file or unknown example.
    """
    if os.fspath(path).startswith(EXAMPLE_PREFIX):
        path = example_path(os.fspath(path)[len(EXAMPLE_PREFIX):])
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix in PICTURE_SUFFIXES:
        raise LayoutFileError(source, "extension", (
            f"a painted picture is read through its legend; write a {SKETCH_FORMAT} legend "
            f'(.json or .yaml) with "image": "{path.name}" and read that'))
    if suffix not in LAYOUT_SUFFIXES + TEXT_SUFFIXES:
        raise LayoutFileError(source, "extension", (
            f"unknown layout file extension {suffix or '(none)'!r}; allowed: .json, .yaml, .yml "
            f"({LAYOUT_FORMAT} or {SKETCH_FORMAT}) and .txt (LMD-style text)"))
    text = read_text(path)
    if suffix in TEXT_SUFFIXES:
        return parse_lmd_text(text, source=source)
    data = load_document(text, source, yaml_syntax=suffix != ".json")
    return layout_from_dict(data, source=source, base_dir=path.parent, color_tolerance=color_tolerance)


def write_layout(layout: Layout, path: str | os.PathLike) -> None:
    """Write `layout` as a `compose.layout/v1` file: JSON for `.json`, YAML for `.yaml` / `.yml`.

    The file is checked against the rules of compose/specs/layout-files.md before it is written (so it always
    reads back) and written atomically: a failed write never leaves a partial file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LAYOUT_SUFFIXES:
        raise LayoutFileError(str(path), "extension", (
            f"cannot write a layout to {suffix or '(no extension)'!r}; use .json, .yaml or .yml"))
    if not path.parent.is_dir():
        raise LayoutFileError(str(path), "folder", (
            f"folder {str(path.parent)!r} does not exist; create it or write elsewhere"))
    text = layout_to_text(layout, syntax="json" if suffix == ".json" else "yaml")
    write_atomically(path, text)


def layout_to_text(layout: Layout, syntax: str = "json") -> str:
    """The `compose.layout/v1` text of `layout` in `syntax` "json" or "yaml" (what write_layout writes)."""
    if syntax not in ("json", "yaml"):
        raise ValueError(f"syntax {syntax!r} is not known; use 'json' or 'yaml'")
    data = layout_to_dict(layout)
    try:
        layout_from_dict(data, source="<layout being written>")
    except LayoutFileError as error:
        raise ValueError(
            f"cannot write this layout as {LAYOUT_FORMAT}: {error.field}: {error.rule}") from None
    if syntax == "json":
        return dump_json(data)
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=None, width=100)


def layout_from_dict(data: Any, source: str = "<dict>", base_dir: str | os.PathLike | None = None,
                     *, color_tolerance: float = DEFAULT_COLOR_TOLERANCE) -> Layout:
    """Check a loaded JSON/YAML document and turn it into a `Layout`.

    `data` is `compose.layout/v1` or `compose.sketch/v1` (by its `format`); `source` names it in
    errors; `base_dir` is where a sketch's picture path starts (the legend file's folder; default the
    current folder).
    """
    if not isinstance(data, dict):
        raise LayoutFileError(source, "document", (
            f"must be an object (a mapping of keys), got {kind_of(data)}; "
            f'start from {{"format": "{LAYOUT_FORMAT}", "objects": [...]}}'))
    check_string_keys(data, source, "document")
    if "format" not in data:
        raise LayoutFileError(source, "format", (
            f'missing; add "format": "{LAYOUT_FORMAT}" (a box layout) or "{SKETCH_FORMAT}" '
            "(a painted sketch with a legend)"))
    file_format = data["format"]
    if file_format == LAYOUT_FORMAT:
        return read_box_document(data, source)
    if file_format == SKETCH_FORMAT:
        return read_sketch_document(data, source, Path(base_dir) if base_dir is not None else Path("."),
                                color_tolerance)
    raise LayoutFileError(source, "format", (
        f"{show_value(file_format)} is not a known format; allowed: {LAYOUT_FORMAT!r}, {SKETCH_FORMAT!r}"))
