"""Draw a layout as a picture for a person to check (compose/specs/layout-files.md, section 3).

Each region is filled with a translucent colour (the colour its phrase names where it can, else a
distinct one) and outlined in the same colour (its polygons when it
has any, with its box dashed; else its box), and labelled "1. a red circle" on a tag of that colour;
the number is the drawing order (a later region is in front). The background and negative prompts, when
the layout has them, are written in a corner (the bottom-left one unless another is emptier). A faint grid marks quarters of the canvas.
Drawing happens at twice the size and is scaled down, so edges and text come out smooth.
"""

from __future__ import annotations

import os
from pathlib import Path

from compose.files import temporary_beside
from compose.scene import Layout, Region

# Distinct, strong colours (Tableau 10, then six more), given out in order to regions whose phrase
# names no colour (or one already taken).
REGION_COLORS: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
    (0, 0, 128), (128, 0, 0), (0, 128, 128), (230, 180, 0), (85, 107, 47), (40, 40, 40),
)
# A region whose phrase names a colour is drawn in that colour (so "a red circle" is red), unless an
# earlier region took it; dark or strong shades, so that outlines and white label text stay readable.
COLOR_WORDS: dict[str, tuple[int, int, int]] = {
    "red": (214, 39, 40), "orange": (255, 127, 14), "yellow": (214, 170, 0), "green": (44, 160, 44),
    "blue": (31, 90, 200), "purple": (148, 70, 189), "violet": (148, 70, 189), "pink": (227, 100, 180),
    "brown": (140, 86, 75), "grey": (110, 110, 110), "gray": (110, 110, 110), "black": (30, 30, 30),
    "cyan": (23, 170, 190), "teal": (0, 128, 128), "gold": (200, 160, 0), "silver": (150, 150, 160),
}
FILL_ALPHA = 64  # of 255: regions stay see-through where they overlap
SUPERSAMPLE = 2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
MIN_SIDE = 64
MAX_SIDE = 4096


def region_colors(layout: Layout) -> list[tuple[int, int, int]]:
    """The colour each region is drawn in: distinct, and the colour its phrase names where possible.

    A region whose phrase names a colour word (COLOR_WORDS) gets that colour when no earlier region
    has it; every other region gets the first unused colour of REGION_COLORS (cycling past 16)."""
    colors: list[tuple[int, int, int] | None] = []
    used: set[tuple[int, int, int]] = set()
    for region in layout.regions:
        words = [word.strip(".,;:!?()\"'").lower() for word in region.phrase.split()]
        named = next((COLOR_WORDS[word] for word in words if word in COLOR_WORDS), None)
        if named is not None and named not in used:
            used.add(named)
            colors.append(named)
        else:
            colors.append(None)
    spare = [color for color in REGION_COLORS if color not in used]
    result = []
    for index, color in enumerate(colors):
        if color is None:
            color = spare.pop(0) if spare else REGION_COLORS[index % len(REGION_COLORS)]
        result.append(color)
    return result


def draw_layout(layout: Layout, size: int | tuple[int, int] = 512):
    """Draw `layout` as an RGB `PIL.Image.Image`.

    `size` is the picture's width in pixels (its height follows the layout's canvas aspect, square
    when the layout has no canvas), or an explicit (width, height).
    """
    from PIL import Image, ImageDraw

    width, height = _picture_size(layout, size)
    scale = SUPERSAMPLE
    big_width, big_height = width * scale, height * scale
    picture = Image.new("RGBA", (big_width, big_height), (255, 255, 255, 255))
    _draw_grid(ImageDraw.Draw(picture), big_width, big_height, scale)

    line_width = max(2, round(min(width, height) / 170)) * scale
    colors = region_colors(layout)
    for index, region in enumerate(layout.regions):
        color = colors[index]
        shapes = _region_shapes(region, big_width, big_height)
        fill = Image.new("RGBA", picture.size, (0, 0, 0, 0))
        fill_draw = ImageDraw.Draw(fill)
        for points in shapes:
            fill_draw.polygon(points, fill=color + (FILL_ALPHA,))
        picture = Image.alpha_composite(picture, fill)
        draw = ImageDraw.Draw(picture)
        if region.polygons:
            _dashed_rectangle(draw, _box_pixels(region, big_width, big_height), color, max(1, line_width // 2),
                              dash=6 * scale)
        for points in shapes:
            draw.line(points + [points[0]], fill=color, width=line_width, joint="curve")

    draw = ImageDraw.Draw(picture)
    font_size = max(10, round(min(width, height) * 0.03)) * scale
    font = _font(font_size)
    placed: list[tuple[float, float, float, float]] = []
    for index, region in enumerate(layout.regions):
        label = f"{index + 1}. {region.phrase}"
        box = _box_pixels(region, big_width, big_height)
        _draw_tag(draw, label, box, colors[index], font, big_width, big_height, placed, scale)

    notes = [f"{name}: {text}" for name, text in (("background", layout.background),
                                                   ("negative", layout.negative)) if text]
    if notes:
        regions = [_box_pixels(region, big_width, big_height) for region in layout.regions]
        picture = _draw_notes(picture, notes, _font(max(9, round(font_size * 0.85 / scale)) * scale), scale,
                              regions + placed)
    small = picture.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)
    return small


def save_layout_image(layout: Layout, path: str | os.PathLike, size: int | tuple[int, int] = 512) -> None:
    """Draw `layout` (see draw_layout) and save it to `path` (.png, .jpg, .jpeg or .webp), atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"{path}: cannot save a layout picture as {suffix or '(no extension)'!r}; "
                         f"use one of {', '.join(IMAGE_SUFFIXES)}")
    if not path.parent.is_dir():
        raise ValueError(f"{path}: folder {str(path.parent)!r} does not exist; create it or save elsewhere")
    picture = draw_layout(layout, size)
    image_format = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}[suffix]
    with temporary_beside(path) as temporary:
        picture.save(temporary, format=image_format)


def _picture_size(layout: Layout, size: int | tuple[int, int]) -> tuple[int, int]:
    rule = f"each side a whole number of pixels from {MIN_SIDE} to {MAX_SIDE}"
    if isinstance(size, tuple):
        if len(size) != 2 or not all(isinstance(side, int) and not isinstance(side, bool) for side in size):
            raise ValueError(f"size {size!r} must be a width or a (width, height) pair; {rule}")
        width, height = size
    elif isinstance(size, int) and not isinstance(size, bool):
        width = size
        if layout.canvas is not None and layout.canvas[0] > 0:
            height = max(MIN_SIDE, round(size * layout.canvas[1] / layout.canvas[0]))
        else:
            height = size
    else:
        raise ValueError(f"size {size!r} must be a width or a (width, height) pair; {rule}")
    for side in (width, height):
        if not MIN_SIDE <= side <= MAX_SIDE:
            raise ValueError(f"picture size {width} x {height} is not allowed; {rule}")
    return width, height


def _region_shapes(region: Region, width: int, height: int) -> list[list[tuple[float, float]]]:
    """The region's outlines in pixels: each polygon, or its box as a rectangle."""
    if region.polygons:
        return [[(x * width, y * height) for x, y in polygon] for polygon in region.polygons]
    x0, y0, x1, y1 = _box_pixels(region, width, height)
    return [[(x0, y0), (x1, y0), (x1, y1), (x0, y1)]]


def _box_pixels(region: Region, width: int, height: int) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = region.box
    return (x0 * width, y0 * height, x1 * width, y1 * height)


def _draw_grid(draw, width: int, height: int, scale: int) -> None:
    for quarter in (1, 2, 3):
        x = width * quarter / 4
        y = height * quarter / 4
        shade = (228, 228, 228, 255) if quarter == 2 else (240, 240, 240, 255)
        draw.line([(x, 0), (x, height)], fill=shade, width=scale)
        draw.line([(0, y), (width, y)], fill=shade, width=scale)


def _dashed_rectangle(draw, box, color, width: int, dash: int) -> None:
    x0, y0, x1, y1 = box
    for start, end in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))):
        length = max(abs(end[0] - start[0]), abs(end[1] - start[1]))
        steps = max(1, int(length // dash))
        for step in range(0, steps, 2):
            t0, t1 = step / steps, min(1.0, (step + 1) / steps)
            draw.line([(start[0] + (end[0] - start[0]) * t0, start[1] + (end[1] - start[1]) * t0),
                       (start[0] + (end[0] - start[0]) * t1, start[1] + (end[1] - start[1]) * t1)],
                      fill=color, width=width)


def _font(size: int):
    """PIL's bundled scalable font at `size` pixels (a bitmap font where FreeType is missing)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has no sized default font
        return ImageFont.load_default()


def _fit_text(draw, text: str, font, max_width: float) -> str:
    """`text`, shortened with "..." so that it is at most `max_width` pixels wide."""
    if draw.textlength(text, font=font) <= max_width:
        return text
    while len(text) > 1 and draw.textlength(text + "...", font=font) > max_width:
        text = text[:-1]
    return text.rstrip() + "..."


def _draw_tag(draw, label: str, box, color, font, width: int, height: int, placed: list, scale: int) -> None:
    """A label on a tag of the region's colour, placed at the region's top-left corner where free.

    Candidate places: inside the top-left corner, just above the box, inside the bottom-left corner,
    just below the box (above and below first when the tag does not fit inside the box); each is
    moved into the picture, and the first that covers no earlier tag wins (else the one covering
    least)."""
    padding = 3 * scale
    margin = 2 * scale
    text = _fit_text(draw, label, font, width - 2 * (padding + margin))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tag_width = right - left + 2 * padding
    tag_height = bottom - top + 2 * padding
    x0, y0, x1, y1 = box
    candidates = [(x0 + margin, y0 + margin), (x0, y0 - tag_height - margin),
                  (x0 + margin, y1 - tag_height - margin), (x0, y1 + margin)]
    if tag_width > x1 - x0 - 2 * margin or 2 * tag_height > y1 - y0:
        candidates = [candidates[1], candidates[3], candidates[0], candidates[2]]  # too small: outside
    best, best_cost = None, None
    for tag_x, tag_y in candidates:
        tag_x = min(max(tag_x, margin), width - tag_width - margin)
        tag_y = min(max(tag_y, margin), height - tag_height - margin)
        rectangle = (tag_x, tag_y, tag_x + tag_width, tag_y + tag_height)
        cost = sum(_overlap_area(rectangle, other) for other in placed)
        if best_cost is None or cost < best_cost:
            best, best_cost = rectangle, cost
        if cost == 0:
            break
    placed.append(best)
    draw.rounded_rectangle(best, radius=3 * scale, fill=color + (235,))
    luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    text_color = (0, 0, 0, 255) if luminance > 150 else (255, 255, 255, 255)
    draw.text((best[0] + padding - left, best[1] + padding - top), text, font=font, fill=text_color)


def _overlap_area(a, b) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return width * height if width > 0 and height > 0 else 0.0


def _draw_notes(picture, lines: list[str], font, scale: int, occupied: list):
    """Write `lines` in a corner on a translucent white plate with a thin border.

    The corner is the bottom-left one unless another covers less of the `occupied` rectangles
    (region boxes and tags); ties keep the order bottom-left, bottom-right, top-left, top-right."""
    from PIL import Image, ImageDraw

    overlay = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    padding = 4 * scale
    margin = 4 * scale
    max_width = picture.width - 2 * (padding + margin)
    texts = [_fit_text(draw, line, font, max_width) for line in lines]
    boxes = [draw.textbbox((0, 0), text, font=font) for text in texts]
    line_height = max(bottom - top for _, top, _, bottom in boxes) + 2 * scale
    plate_width = max(right - left for left, _, right, _ in boxes) + 2 * padding
    plate_height = line_height * len(texts) + 2 * padding - 2 * scale
    right = picture.width - margin - plate_width
    bottom = picture.height - margin - plate_height
    corners = [(margin, bottom), (right, bottom), (margin, margin), (right, margin)]
    costs = [sum(_overlap_area((x, y, x + plate_width, y + plate_height), other) for other in occupied)
             for x, y in corners]
    x0, y0 = corners[costs.index(min(costs))]
    draw.rounded_rectangle((x0, y0, x0 + plate_width, y0 + plate_height), radius=3 * scale,
                           fill=(255, 255, 255, 215), outline=(120, 120, 120, 255), width=scale)
    for row, (text, (left, top, _, _)) in enumerate(zip(texts, boxes)):
        draw.text((x0 + padding - left, y0 + padding + row * line_height - top), text, font=font,
                  fill=(40, 40, 40, 255))
    return Image.alpha_composite(picture, overlay)


__all__ = ["COLOR_WORDS", "REGION_COLORS", "draw_layout", "region_colors", "save_layout_image"]
