"""Draw the pictures the README and docs show, from the project's own code (reproducible).

Usage: python scripts/make_docs_pictures.py [--out docs]
- shapes_samples.png: training samples of the shapes world with their captions;
- layout_example.png: a prompt parsed, planned and drawn as a labelled layout;
- plain_vs_compose.png: the bundled model fed the whole prompt (plain) and the compose pipeline, same
  prompts and seeds, each picture marked with the scorer's verdict (--no-generate skips it);
- grain_v2_vs_v3.png: the same compose pictures from shapes-v2 (pixel space, bundled until 2026-12-02,
  models/shapes-v2) and from the bundled shapes-v3 (a latent model), each enlarged to 256 px so the grain
  shows, with each picture's median difference to a clean render of what was read (compose.shapes.fidelity).
The model card's grid of single objects comes from `benchmarks/single_object.py --grid`.
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


SIDE_BY_SIDE_PROMPTS = (
    "a red circle to the left of two blue squares",
    "four green triangles",
    "a blue circle and a red square",
    "two yellow stars above three purple diamonds",
    "a green star between a red circle and a blue square",
    "a purple diamond below an orange circle, and no stars",
)


def side_by_side(prompts, seed: int = 0, tile: int = 160) -> Image.Image:
    """Rows of (plain, compose) pictures for each prompt, with a tick or cross from the scorer."""
    from compose.generate import Generator
    from compose.shapes.detect import detect
    from compose.shapes.score import score

    generator = Generator()
    font = ImageFont.load_default(size=12)
    width = 2 * (tile + 10) + 330
    sheet = Image.new("RGB", (width, 30 + len(prompts) * (tile + 10)), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((10, 8), "plain", fill=(0, 0, 0), font=font)
    draw.text((tile + 20, 8), "compose", fill=(0, 0, 0), font=font)
    for row, prompt in enumerate(prompts):
        y = 30 + row * (tile + 10)
        for column, method in enumerate(("plain", "compose")):
            result = generator(prompt=prompt, method=method, seed=seed)
            verdict = score(result.scene, detect(result.image))
            x = 10 + column * (tile + 10)
            sheet.paste(Image.fromarray(result.image).resize((tile, tile), Image.NEAREST), (x, y))
            mark, colour = ("correct", (20, 140, 40)) if verdict.correct_strict else ("wrong", (200, 30, 30))
            draw.rectangle([x, y, x + tile - 1, y + tile - 1], outline=colour, width=3)
            draw.text((x + 6, y + tile - 18), mark, fill=colour, font=font)
        for line_number, line in enumerate(textwrap.wrap(prompt, width=44)):
            draw.text((2 * (tile + 10) + 10, y + 10 + 15 * line_number), line, fill=(40, 40, 40), font=font)
    return sheet


def grain_comparison(prompts, pixel_model: str, seed: int = 0, tile: int = 256) -> Image.Image:
    """Columns: `pixel_model` (shapes-v2) and the bundled model, both with compose at their own defaults; one
    row per prompt, each picture enlarged to `tile` px (nearest neighbour) under its fidelity figures."""
    from compose.generate import Generator
    from compose.shapes.detect import detect
    from compose.shapes.fidelity import fidelity
    from compose.shapes.score import score

    columns = [("shapes-v2 (pixels)", Generator(pixel_model)), ("shapes-v3 (bundled, latent)", Generator())]
    font = ImageFont.load_default(size=13)
    sheet = Image.new("RGB", (len(columns) * (tile + 10) + 10, 30 + len(prompts) * (tile + 30)), "white")
    draw = ImageDraw.Draw(sheet)
    for column, (title, generator) in enumerate(columns):
        draw.text((10 + column * (tile + 10), 8), title, fill=(0, 0, 0), font=font)
    for row, prompt in enumerate(prompts):
        y = 30 + row * (tile + 30)
        for column, (_, generator) in enumerate(columns):
            result = generator(prompt=prompt, seed=seed)
            found = detect(result.image)
            quality = fidelity(result.image, found)
            right = score(result.scene, found).correct_strict
            x = 10 + column * (tile + 10)
            sheet.paste(Image.fromarray(result.image).resize((tile, tile), Image.NEAREST), (x, y))
            draw.text((x, y + tile + 3), f"{'correct' if right else 'wrong'}; {quality.render_difference:.1f} from "
                      f"clean, {quality.background_error:.1f} off white", fill=(40, 40, 40), font=font)
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--no-generate", action="store_true", help="skip the pictures that need the model")
    parser.add_argument("--pixel-model", default="models/shapes-v2", help="the pixel model of grain_v2_vs_v3.png")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from compose import parse, plan
    from compose.draw import draw_layout
    from compose.shapes.data import sample_at

    samples = [sample_at(2026, index, size=64) for index in range(12)]
    caption_grid([(s.image, s.caption) for s in samples]).save(args.out / "shapes_samples.png")

    prompt = "a small red circle to the left of two blue squares, and a yellow star above the squares"
    draw_layout(plan(parse(prompt), seed=0), size=384).save(args.out / "layout_example.png")
    names = ["shapes_samples.png", "layout_example.png"]
    if not args.no_generate:
        side_by_side(SIDE_BY_SIDE_PROMPTS).save(args.out / "plain_vs_compose.png")
        names.append("plain_vs_compose.png")
        if Path(args.pixel_model).is_dir():
            grain_comparison(SIDE_BY_SIDE_PROMPTS[:4], args.pixel_model).save(args.out / "grain_v2_vs_v3.png")
            names.append("grain_v2_vs_v3.png")
    print("wrote", ", ".join(str(args.out / name) for name in names))


if __name__ == "__main__":
    main()
