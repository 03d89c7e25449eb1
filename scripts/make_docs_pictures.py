"""Draw the pictures the README and docs show, from the project's own code (reproducible).

Usage: python scripts/make_docs_pictures.py [--out docs]
- shapes_samples.png: training samples of the shapes world with their captions;
- layout_example.png: a prompt parsed, planned and drawn as a labelled layout.
"""

import argparse
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def caption_grid(items, tile: int = 160, columns: int = 4, lines: int = 5) -> Image.Image:
    """Pictures in a grid, each with its caption wrapped underneath."""
    font = ImageFont.load_default(size=11)
    text_height = 13 * lines + 6
    rows = (len(items) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * (tile + 10) + 10, rows * (tile + text_height + 10) + 10), "white")
    draw = ImageDraw.Draw(sheet)
    for index, (picture, caption) in enumerate(items):
        x = 10 + (index % columns) * (tile + 10)
        y = 10 + (index // columns) * (tile + text_height + 10)
        sheet.paste(Image.fromarray(picture).resize((tile, tile), Image.NEAREST), (x, y))
        draw.rectangle([x - 1, y - 1, x + tile, y + tile], outline=(200, 200, 200))
        wrapped = textwrap.wrap(caption, width=28)[:lines]
        for line_number, line in enumerate(wrapped):
            draw.text((x, y + tile + 4 + 13 * line_number), line, fill=(40, 40, 40), font=font)
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from compose import parse, plan
    from compose.draw import draw_layout
    from compose.shapes.data import sample_at

    samples = [sample_at(2026, index, size=64) for index in range(12)]
    caption_grid([(s.image, s.caption) for s in samples]).save(args.out / "shapes_samples.png")

    prompt = "a small red circle to the left of two blue squares, and a yellow star above the squares"
    draw_layout(plan(parse(prompt), seed=0), size=384).save(args.out / "layout_example.png")
    print("wrote", ", ".join(str(args.out / name) for name in ("shapes_samples.png", "layout_example.png")))


if __name__ == "__main__":
    main()
