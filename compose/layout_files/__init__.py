"""Read and write layout files (compose/specs/layout-files.md, layout files v1).

A layout says where each object goes. `read_layout(path)` reads every kind of layout file of
compose/specs/layout-files.md into a `compose.scene.Layout`, choosing the reader by the file's extension and
`format` key (`read_write`):

- ``compose.layout/v1`` in JSON (``.json``) or YAML (``.yaml``, ``.yml``): a list of objects, each a
  phrase and one region (section 1; `boxes`).
- ``compose.sketch/v1`` in JSON or YAML: a legend naming a painted PNG/JPEG picture and the phrase of
  each paint colour (section 2; `sketch`). Every legend colour becomes one region whose polygons are the
  outlines (OpenCV contours) of every blob painted in that colour, within a colour tolerance that copes
  with anti-aliased edges and JPEG compression; one colour painted as several blobs stays one object.
- LMD-style text (``.txt``; the layout format of "LLM-grounded Diffusion", Lian et al. 2023):
  ``Objects: [('a green car', [x, y, w, h]), ...]``, ``Background prompt: ...`` and optional
  ``Negative prompt: ...`` and ``Caption: ...`` lines, boxes in pixels of a 512 x 512 canvas (`lmd`).

``example:NAME`` reads one of the example layouts shipped with the package (`examples`; their files are
in compose/layout_files/examples/).

`write_layout(layout, path)` writes ``compose.layout/v1`` as JSON or YAML (by extension). Every layout
read from any source round-trips: writing it and reading it back gives the same regions.

Extension key ``polygons``: besides the format's ``box`` and ``polygon``, an object may carry
``"polygons": [[[x, y], ...], [[x, y], ...]]``, a list of simple polygons that together form its
region. A sketch colour painted as several blobs is written this way, so nothing is lost. Each object
has exactly one of ``box``, ``polygon`` and ``polygons``; the region's box is then the bounding box of
all the polygon points.

Conventions:
- Coordinates are fractions of the canvas, origin top-left, y downwards, in [0, 1]. They are rounded to
  9 decimals when read and written, so a file written from a layout reads back exactly.
- Sketch outlines pass through the centres of a blob's edge pixels (divided by the picture's width and
  height), so `Region.mask` at the picture's size gives back the painted pixels. Holes inside a blob
  are filled: the outline is the blob's outer edge.
- Regions read from files belong to no scene group (``group=None``, ``instance=0``); the later object
  is drawn in front.

Safety (`documents`): nothing in a file is ever executed or unpickled. JSON is read with `json`, YAML with a
`yaml.SafeLoader` subclass that only adds a check for duplicate keys, and the LMD ``Objects`` list with
a small tokenizer written for that literal form (never `eval` or `ast.literal_eval`).

Every malformed file raises `LayoutFileError` (a `ValueError`; `common`) whose one-line message names
the file, the field and the rule with what is allowed, e.g.
``layouts/bad.json: objects[1].box: x0 (0.7) must be less than x1 (0.4); boxes are [x0, y0, x1, y1] in [0, 1]``.
"""

from compose.layout_files.common import FORMATS, MAX_OBJECTS, SKETCH_FORMAT, LayoutFileError
from compose.layout_files.boxes import layout_to_dict
from compose.layout_files.examples import EXAMPLE_PREFIX, example_names, example_path
from compose.layout_files.lmd import parse_lmd_text
from compose.layout_files.read_write import layout_from_dict, layout_to_text, read_layout, write_layout
from compose.layout_files.sketch import trace_painted_colors
from compose.scene import LAYOUT_FORMAT

__all__ = [
    "EXAMPLE_PREFIX", "FORMATS", "LAYOUT_FORMAT", "MAX_OBJECTS", "SKETCH_FORMAT", "LayoutFileError",
    "example_names", "example_path", "layout_from_dict", "layout_to_dict", "layout_to_text", "parse_lmd_text",
    "read_layout", "trace_painted_colors", "write_layout",
]
