"""Draw docs/studio.png: the studio's page after a prompt, a dragged box and Generate (README's picture).

Usage: OMP_NUM_THREADS=1 python scripts/studio_screenshot.py [OUT.png]  (needs the studio extra and
Debian's chromium). It starts its own studio on a free port and stops it afterwards.
"""

from __future__ import annotations

import sys

from playwright.sync_api import sync_playwright

from compose.studio.actions import Studio
from compose.studio.server import StudioServer

PROMPT = "a small red circle to the left of two blue squares, and a yellow star above the squares"


def main(out: str = "docs/studio.png") -> None:
    studio = Studio()
    studio.load()
    server = StudioServer(studio, port=0).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                 args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1480, "height": 940})
            page.goto(server.url)
            page.wait_for_selector("body[data-ready=true]")
            page.type("#prompt", PROMPT, delay=1)
            page.wait_for_function(f"studio.state.layout.prompt === {PROMPT!r} && studio.state.layout.objects.length === 4")
            page.click("#generate")
            page.wait_for_function("document.querySelectorAll('#results img.picture').length === 2", timeout=60_000)
            star = next(item for item in page.evaluate("studio.state.layout.objects") if "star" in item["phrase"])
            canvas = page.locator("#layout-canvas").bounding_box()
            x0, y0, x1, y1 = star["box"]
            page.mouse.move(canvas["x"] + (x0 + x1) / 2 * canvas["width"], canvas["y"] + (y0 + y1) / 2 * canvas["height"])
            page.mouse.down()
            page.mouse.move(canvas["x"] + 0.5 * canvas["width"], canvas["y"] + 0.93 * canvas["height"], steps=8)
            page.mouse.up()
            page.wait_for_selector("#relations li.broken")
            page.screenshot(path=out)
            browser.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main(*sys.argv[1:])
