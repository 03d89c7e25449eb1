"""LMD-style layout text, the layout format of "LLM-grounded Diffusion" (Lian et al. 2023)
(compose/specs/layout-files.md, section 3).

``Objects: [('a green car', [x, y, w, h]), ...]``, ``Background prompt: ...`` and optional
``Negative prompt: ...`` and ``Caption: ...`` lines, boxes in pixels of a 512 x 512 canvas. The Objects
list is read by a small tokenizer written for that literal form, never by `eval` or `ast.literal_eval`.
"""

from __future__ import annotations

import math
import re

from compose.layout_files.common import MAX_OBJECTS, LayoutFileError, round_coordinate, show_value
from compose.scene import Layout, Region

LMD_CANVAS_SIDE = 512  # LMD boxes are pixels of a 512 x 512 canvas
_LMD_ITEM_RULE = "Objects is a list of ('phrase', [x, y, w, h]) tuples, boxes in pixels of 512 x 512"
_LMD_KEYS = {"objects": "Objects", "background prompt": "Background prompt",
             "negative prompt": "Negative prompt", "caption": "Caption"}
_LMD_LINE = re.compile(r"\s*([A-Za-z][A-Za-z ]*?)\s*:(.*)$")
_LMD_TOKEN = re.compile(r"""
    (?P<number>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<punct>[\[\](),])
  | (?P<word>[A-Za-z_]\w*)
  | (?P<other>\S)
""", re.VERBOSE)
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t", "r": "\r"}


def parse_lmd_text(text: str, source: str = "<text>") -> Layout:
    """Read LMD-style layout text (the format of LLM-grounded Diffusion's layouts).

    Lines: ``Objects: [('a green car', [x, y, w, h]), ...]`` (required; may run over several lines),
    ``Background prompt: ...``, ``Negative prompt: ...`` and ``Caption: ...`` (optional); blank lines
    are ignored. Boxes are pixels of a 512 x 512 canvas: x, y the top-left corner, w, h the size. The
    Objects list is read by a tokenizer for exactly this literal form; nothing is evaluated.
    """
    values: dict[str, str] = {}
    objects: list[tuple[str, tuple[float, ...], int]] | None = None
    objects_line = 0
    position = 0
    line_number = 0
    while position < len(text):
        line_number += 1
        line_end = text.find("\n", position)
        line_end = len(text) if line_end < 0 else line_end
        line = text[position:line_end]
        if not line.strip():
            position = line_end + 1
            continue
        match = _LMD_LINE.match(line)
        key = " ".join(match.group(1).lower().split()) if match else None
        if key not in _LMD_KEYS:
            shown = line.strip()
            raise LayoutFileError(source, f"line {line_number}", (
                f"unexpected line {show_value(shown)}; allowed lines: Objects: [...], Background prompt: ..., "
                "Negative prompt: ..., Caption: ..."))
        if key in values or (key == "objects" and objects is not None):
            raise LayoutFileError(source, f"line {line_number}", (
                f"{_LMD_KEYS[key]} appears twice; give each line once"))
        if key == "objects":
            objects_line = line_number
            parser = _LmdObjectsParser(text, position + match.start(2), source)
            objects = parser.parse_list()
            rest_end = text.find("\n", parser.position)
            rest_end = len(text) if rest_end < 0 else rest_end
            rest = text[parser.position:rest_end]
            if rest.strip():
                line, column = _line_and_column(text, parser.position + len(rest) - len(rest.lstrip()))
                raise LayoutFileError(source, f"line {line}, Objects", (
                    f"unexpected text {show_value(rest.strip())} after the list at column {column}; "
                    "the Objects line ends with its closing ]"))
            line_number = text.count("\n", 0, rest_end) + 1
            position = rest_end + 1
        else:
            values[key] = match.group(2).strip()
            position = line_end + 1
    if objects is None:
        raise LayoutFileError(source, "Objects", (
            f"no Objects line; add one such as Objects: [('a green car', [21, 281, 211, 159])] "
            f"({_LMD_ITEM_RULE})"))
    if not objects:
        raise LayoutFileError(source, f"line {objects_line}, Objects", (
            f"the list is empty; give 1 to {MAX_OBJECTS} ('phrase', [x, y, w, h]) tuples"))
    if len(objects) > MAX_OBJECTS:
        raise LayoutFileError(source, f"line {objects_line}, Objects", (
            f"{len(objects)} objects; at most {MAX_OBJECTS} are allowed"))
    regions = []
    for index, (phrase, numbers, line) in enumerate(objects):
        field = f"line {line}, Objects[{index}]"
        if not phrase.strip():
            raise LayoutFileError(source, field, "the phrase is empty; say what the object is")
        regions.append(Region(phrase=phrase, box=_lmd_box(numbers, source, field)))
    return Layout(
        regions=tuple(regions),
        prompt=values.get("caption") or None,
        background=values.get("background prompt") or None,
        negative=values.get("negative prompt") or None,
    )


class _LmdObjectsParser:
    """Recursive-descent reader for ``[('phrase', [x, y, w, h]), ...]``: strings, numbers, brackets.

    It reads tokens one at a time from `position`, stops right after the list's closing bracket, and
    accepts nothing else (no names, calls or expressions), so no code in a file can run.
    """

    def __init__(self, text: str, position: int, source: str):
        self.text = text
        self.position = position
        self.source = source

    def parse_list(self) -> list[tuple[str, tuple[float, ...], int]]:
        self._expect("[", "Objects", "a list starting with [")
        items: list[tuple[str, tuple[float, ...], int]] = []
        if self._peek_punct("]"):
            self._next()
            return items
        while True:
            items.append(self._parse_item(len(items)))
            kind, value, start = self._next()
            if (kind, value) == ("punct", ","):
                if self._peek_punct("]"):
                    self._next()
                    return items
                continue
            if (kind, value) == ("punct", "]"):
                return items
            self._fail(start, f"Objects[{len(items) - 1}]", value, "',' or ']' after a tuple")

    def _parse_item(self, index: int) -> tuple[str, tuple[float, ...], int]:
        field = f"Objects[{index}]"
        _, _, start = self._expect("(", field, "a tuple ('phrase', [x, y, w, h]) starting with (")
        kind, phrase, phrase_start = self._next()
        if kind != "string":
            self._fail(phrase_start, field, phrase, "the phrase as a quoted string")
        self._expect(",", field, "',' after the phrase")
        self._expect("[", f"{field} box", "a box [x, y, w, h] starting with [")
        numbers = []
        for position in range(4):
            kind, value, value_start = self._next()
            if kind != "number":
                self._fail(value_start, f"{field} box", value, f"number {position + 1} of 4 in [x, y, w, h]")
            numbers.append(float(value))
            separator = "," if position < 3 else "]"
            kind, value, value_start = self._next()
            if (kind, value) == ("punct", ",") and separator == "]" and self._peek_punct("]"):
                kind, value, value_start = self._next()  # a trailing comma: [x, y, w, h,]
            if (kind, value) != ("punct", separator):
                self._fail(value_start, f"{field} box", value, (
                    f"{separator!r}; a box is exactly 4 numbers [x, y, w, h]"))
        kind, value, value_start = self._next()
        if (kind, value) == ("punct", ",") and self._peek_punct(")"):
            kind, value, value_start = self._next()
        if (kind, value) != ("punct", ")"):
            self._fail(value_start, field, value, "')' closing the tuple ('phrase', [x, y, w, h])")
        line, _ = _line_and_column(self.text, start)
        return (phrase, tuple(numbers), line)

    def _next(self) -> tuple[str, str, int]:
        """The next token as (kind, value, start offset); kind "end" at the end of the text."""
        text = self.text
        while self.position < len(text) and text[self.position].isspace():
            self.position += 1
        start = self.position
        if start >= len(text):
            return ("end", "", start)
        match = _LMD_TOKEN.match(text, start)
        if match.lastgroup == "other" and match.group() in "'\"":
            line, column = _line_and_column(text, start)
            raise LayoutFileError(self.source, f"line {line}, Objects", (
                f"string starting at column {column} is not closed on its line; {_LMD_ITEM_RULE}"))
        self.position = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "string":
            value = _unescape(value[1:-1])
        return (kind, value, start)

    def _peek_punct(self, punct: str) -> bool:
        saved = self.position
        kind, value, _ = self._next()
        self.position = saved
        return (kind, value) == ("punct", punct)

    def _expect(self, punct: str, field: str, wanted: str) -> tuple[str, str, int]:
        token = self._next()
        if token[:2] != ("punct", punct):
            self._fail(token[2], field, token[1], wanted)
        return token

    def _fail(self, offset: int, field: str, found: str, wanted: str) -> None:
        next_key_line = offset < len(self.text) and _starts_lmd_line(self.text, offset)
        if offset >= len(self.text) or next_key_line:
            # The list ran into the end of the text or the next "Key:" line: point at where it stopped.
            offset = len(self.text[:offset].rstrip())
            shown = "the end of the text" if not next_key_line else (
                f"the end of the line (the next line starts {self.text[offset:].split(':')[0].strip()!r}:)")
            shown += " before the list was closed"
        else:
            shown = show_value(found)
        line, column = _line_and_column(self.text, offset)
        raise LayoutFileError(self.source, f"line {line}, {field}", (
            f"expected {wanted} at column {column}, found {shown}; {_LMD_ITEM_RULE}"))


def _starts_lmd_line(text: str, offset: int) -> bool:
    """Whether `offset` is the first non-blank character of a line that starts with a known LMD key."""
    line_start = text.rfind("\n", 0, offset) + 1
    if text[line_start:offset].strip():
        return False
    line_end = text.find("\n", offset)
    match = _LMD_LINE.match(text[line_start:len(text) if line_end < 0 else line_end])
    return bool(match) and " ".join(match.group(1).lower().split()) in _LMD_KEYS


def _unescape(body: str) -> str:
    """Undo the backslash escapes a Python repr writes in a string (\\\\, \\', \\", \\n, \\t, \\xhh, \\uhhhh)."""
    out = []
    index = 0
    while index < len(body):
        character = body[index]
        if character != "\\" or index + 1 >= len(body):
            out.append(character)
            index += 1
            continue
        code = body[index + 1]
        hex_length = {"x": 2, "u": 4, "U": 8}.get(code)
        digits = body[index + 2:index + 2 + hex_length] if hex_length else ""
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            index += 2
        elif hex_length and len(digits) == hex_length and all(d in "0123456789abcdefABCDEF" for d in digits):
            out.append(chr(min(int(digits, 16), 0x10FFFF)))
            index += 2 + hex_length
        else:
            out.append(character)  # an unknown escape keeps its backslash, as Python does
            index += 1
    return "".join(out)


def _lmd_box(numbers: tuple[float, ...], source: str, field: str) -> tuple[float, float, float, float]:
    x, y, w, h = numbers
    side = LMD_CANVAS_SIDE
    rule = f"LMD boxes are [x, y, w, h] in pixels of a {side} x {side} canvas (x, y: top-left corner)"
    if not all(math.isfinite(v) for v in numbers):
        raise LayoutFileError(source, field, f"box numbers must be finite; {rule}")
    if w <= 0 or h <= 0:
        raise LayoutFileError(source, field, f"width {w:g} and height {h:g} must be positive; {rule}")
    if x < 0 or y < 0 or x + w > side or y + h > side:
        raise LayoutFileError(source, field, (
            f"box [{x:g}, {y:g}, {w:g}, {h:g}] reaches outside the canvas (x + w = {x + w:g}, "
            f"y + h = {y + h:g}; both must be at most {side}, x and y at least 0); {rule}"))
    return tuple(round_coordinate(v / side) for v in (x, y, x + w, y + h))


def _line_and_column(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column
