"""`compose studio` in a real browser (issue 15): headless Chromium (Debian's package) driven by
Playwright against a running studio with the bundled model. A person's steps: type a prompt and see
the scene and boxes, see a parse error inline, drag a box across another object's box and see the
broken relation flagged, add / re-label / delete boxes, generate and see the pictures with the
checker's reading and the attention maps, save the layout and open it again, upload a painted sketch
and paint one with the brush.

A screenshot of every step is written to $COMPOSE_TEST_ARTIFACTS (default build/test-artifacts/studio
under the repository). Without Playwright or a Chromium the tests are skipped, saying why; they never
pass silently.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the studio extra is not installed (pip install -e '.[studio]')")
playwright_api = pytest.importorskip("playwright.sync_api",
                                     reason="Playwright is not installed (pip install -e '.[studio]')")

from compose.layout_files import example_path  # noqa: E402
from compose.studio.actions import Studio  # noqa: E402
from compose.studio.server import StudioServer  # noqa: E402

PROMPT = "a red circle to the left of a blue square"
pytestmark = pytest.mark.slow


def chromium_path() -> str | None:
    """Debian's chromium (or $COMPOSE_STUDIO_CHROMIUM); Playwright's own browser download is not used."""
    for candidate in (os.environ.get("COMPOSE_STUDIO_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="module")
def artifacts(request) -> Path:
    folder = Path(os.environ.get("COMPOSE_TEST_ARTIFACTS", request.config.rootpath / "build" / "test-artifacts")) / "studio"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium to drive: install Debian's chromium (apt-get install chromium) "
                    "or set COMPOSE_STUDIO_CHROMIUM")
    with playwright_api.sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=executable, headless=True,
                                                  args=["--no-sandbox", "--disable-gpu"])
        except Exception as error:  # noqa: BLE001 - a browser that cannot start here is a skip, said why
            pytest.skip(f"Chromium at {executable} does not start: {error}")
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server():
    studio = Studio()
    studio.load()
    running = StudioServer(studio, port=0).start()
    yield running
    running.stop()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1500, "height": 1050}, accept_downloads=True)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(server.url)
    opened.wait_for_selector("body[data-ready=true]")
    yield opened
    context.close()
    assert not errors, f"the page raised: {errors}"


def type_prompt(page, prompt: str, objects: int):
    page.fill("#prompt", "")
    page.type("#prompt", prompt, delay=2)  # key by key, as a person types
    page.wait_for_function(f"studio.state.layout.objects.length === {objects} && "
                           f"studio.state.layout.prompt === {json.dumps(prompt)}")


def canvas_point(page, x: float, y: float) -> tuple[float, float]:
    box = page.locator("#layout-canvas").bounding_box()
    return box["x"] + x * box["width"], box["y"] + y * box["height"]


def drag(page, start: tuple[float, float], end: tuple[float, float]):
    page.mouse.move(*canvas_point(page, *start))
    page.mouse.down()
    page.mouse.move(*canvas_point(page, *end), steps=8)
    page.mouse.up()


def objects(page) -> list[dict]:
    return page.evaluate("studio.state.layout.objects")


def centre(item: dict) -> tuple[float, float]:
    x0, y0, x1, y1 = item["box"]
    return (x0 + x1) / 2, (y0 + y1) / 2


def test_typing_a_prompt_shows_the_scene_and_its_boxes_and_a_parse_error_inline(page, artifacts):
    type_prompt(page, "a red circle to the left of two blue squares", 3)
    scene = page.inner_text("#scene")
    assert "circle" in scene and "count 2" in scene and "colour blue" in scene and "left_of" in scene
    assert [item["phrase"] for item in objects(page)].count("a blue square") == 2
    assert "✓ circle left_of square" in page.inner_text("#relations")
    page.screenshot(path=artifacts / "01-prompt-scene-and-boxes.png")
    page.fill("#prompt", "hello there")
    page.locator("#parse-error").wait_for(state="visible")
    assert "names nothing" in page.inner_text("#parse-error") or "hello there" in page.inner_text("#parse-error")
    page.screenshot(path=artifacts / "02-parse-error.png")


def test_dragging_a_box_across_another_object_s_box_flags_the_broken_relation(page, artifacts):
    type_prompt(page, PROMPT, 2)
    circle, square = objects(page)
    assert "circle" in circle["phrase"] and "square" in square["phrase"]
    target = (min(0.97, square["box"][2] + 0.12), centre(square)[1])
    drag(page, centre(circle), target)
    broken = page.locator("#relations li.broken")
    broken.wait_for(state="visible")
    assert "circle left_of square" in broken.inner_text() and "broken by regions 0–1" in broken.inner_text()
    assert page.evaluate("studio.state.relations.relations[0].broken") == [[0, 1]]
    page.screenshot(path=artifacts / "03-broken-relation.png")
    drag(page, target, (0.08, 0.08))  # back to the left: the relation holds again
    page.locator("#relations li.holds").wait_for(state="visible")


def test_boxes_are_added_relabelled_resized_and_deleted(page, artifacts):
    type_prompt(page, PROMPT, 2)
    page.check('input[name="mode"][value="add"]')
    page.fill("#new-phrase", "a green star")
    drag(page, (0.40, 0.03), (0.58, 0.20))
    page.wait_for_function("studio.state.layout.objects.length === 3")
    page.wait_for_function("studio.state.layout.scene.objects.some((g) => g.noun === 'star')")
    page.check('input[name="mode"][value="move"]')
    page.fill("#phrase-input", "a purple diamond")
    page.click("#relabel")
    page.wait_for_function("studio.state.layout.scene.objects.some((g) => g.noun === 'diamond')")
    before = objects(page)[2]["box"]
    drag(page, (before[2] - 0.004, before[3] - 0.004), (before[2] + 0.08, before[3] + 0.08))
    after = objects(page)[2]["box"]
    assert after[2] > before[2] + 0.05 and after[0] == pytest.approx(before[0])
    page.screenshot(path=artifacts / "04-added-relabelled-resized.png")
    page.click("#delete")
    page.wait_for_function("studio.state.layout.objects.length === 2 && "
                           "!studio.state.layout.scene.objects.some((g) => g.noun === 'diamond')")


def test_generate_shows_compose_and_plain_with_the_checker_s_reading(page, artifacts):
    type_prompt(page, PROMPT, 2)
    page.fill("#steps", "10")
    page.click("#generate")
    page.wait_for_function("document.querySelectorAll('#results img.picture').length === 2 && "
                           "[...document.querySelectorAll('#results img.picture')].every((i) => i.naturalWidth === 128)",
                           timeout=60_000)
    methods = page.eval_on_selector_all("#results figure.result", "items => items.map((i) => i.dataset.method)")
    assert methods == ["compose", "plain"]
    compose_result = page.locator('#results figure.result[data-method="compose"]')
    marks = compose_result.locator("ul.checked li").all_inner_texts()
    assert any("a red circle" in mark for mark in marks) and all(mark[0] in "✓✗" for mark in marks)
    assert "read back:" in compose_result.inner_text()
    assert compose_result.locator(".maps img").count() == 2
    with page.expect_download() as record:
        compose_result.locator("a.download-json").click()
    saved = json.loads(Path(record.value.path()).read_text())
    assert saved["method"] == "compose" and saved["steps"] == 10 and saved["check"]["available"]
    assert compose_result.locator("a.download-png").get_attribute("href").startswith("data:image/png;base64,")
    page.screenshot(path=artifacts / "05-generated.png", full_page=True)


def test_a_saved_layout_opens_again(page, artifacts, tmp_path):
    type_prompt(page, "a red circle to the left of two blue squares", 3)
    planned = objects(page)
    with page.expect_download() as download:
        page.click("#save-json")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    document = json.loads(saved.read_text())
    assert document["format"] == "compose.layout/v1" and len(document["objects"]) == 3
    with page.expect_download() as download:
        page.click("#save-yaml")
    assert download.value.suggested_filename == "layout.yaml"
    type_prompt(page, "a star", 1)
    page.set_input_files("#open-files", str(saved))
    page.wait_for_function("studio.state.layout.objects.length === 3")
    reopened = objects(page)
    assert [item["phrase"] for item in reopened] == [item["phrase"] for item in planned]
    for item, original in zip(reopened, planned):
        assert item["box"] == pytest.approx(original["box"], abs=1e-9)
    assert page.input_value("#prompt") == "a red circle to the left of two blue squares"
    assert "circle left_of square" in page.inner_text("#relations")
    page.screenshot(path=artifacts / "06-saved-and-reopened.png")


def test_a_painted_sketch_is_uploaded_and_one_is_painted_with_the_brush(page, artifacts):
    legend, picture = example_path("shapes_sketch.yaml"), example_path("shapes_sketch.yaml").parent / "shapes_sketch.jpg"
    page.set_input_files("#open-files", [str(legend), str(picture)])
    page.wait_for_function("studio.state.layout.objects.length > 0 && "
                           "studio.state.layout.objects.every((o) => o.polygons && o.polygons.length)")
    uploaded = len(objects(page))
    page.screenshot(path=artifacts / "07-uploaded-sketch.png")
    page.set_input_files("#open-files", [str(legend)])  # the legend without its picture: the reader's error
    page.locator("#file-error").wait_for(state="visible")
    assert "was not uploaded with it" in page.inner_text("#file-error")
    page.check('input[name="mode"][value="paint"]')
    page.fill("#new-phrase", "a green star")
    page.fill("#brush", "40")
    drag(page, (0.80, 0.80), (0.92, 0.92))
    page.click("#apply-paint")
    page.wait_for_function(f"studio.state.layout.objects.length === {uploaded + 1}")
    painted = objects(page)[-1]
    assert painted["phrase"] == "a green star" and painted["polygons"]
    assert 0.7 < centre(painted)[0] < 0.98 and 0.7 < centre(painted)[1] < 0.98
    page.screenshot(path=artifacts / "08-painted-with-the-brush.png")
