"""`compose studio` without a browser (issue 15): the actions are the Python API (the same scenes,
layouts, files and errors as the CLI), edited boxes are read back into the scene they show, relation
flags follow the planner's rules, uploads are read in memory and bounded, the server refuses what it
must, and generation runs one request at a time with every queued request answered."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import numpy as np
import pytest

fastapi = pytest.importorskip("fastapi", reason="the studio extra is not installed (pip install -e '.[studio]')")
pytest.importorskip("httpx", reason="the studio extra is not installed (pip install -e '.[studio]')")

from fastapi.testclient import TestClient  # noqa: E402

import compose  # noqa: E402
from compose.cli import main  # noqa: E402
from compose.layout_files import example_path, read_layout  # noqa: E402
from compose.studio.actions import Studio  # noqa: E402
from compose.studio.server import MAX_BODY_BYTES, StudioServer, create_app  # noqa: E402
from compose.studio.uploads import MAX_FILE_BYTES, MAX_FILES, Upload, read_uploaded_layout  # noqa: E402

PROMPT = "a red circle to the left of a blue square"


@pytest.fixture(scope="module")
def studio():
    return Studio()


@pytest.fixture(scope="module")
def client(studio):
    return TestClient(create_app(studio, allowed_hosts=None))


def cli_error(capsys, *argv) -> str:
    """The one-line message the CLI prints for this input (without its "compose CMD: error: " prefix)."""
    assert main(list(argv)) == 2
    return capsys.readouterr().err.strip().split(": error: ", 1)[1]


def upload(path) -> Upload:
    return Upload(path.name, path.read_bytes())


def png_bytes(picture: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return buffer.getvalue()


def moved(layout: dict, phrase_word: str, box: list[float]) -> dict:
    page = json.loads(json.dumps(layout))
    for item in page["objects"]:
        if phrase_word in item["phrase"]:
            item["box"] = box
    return page


# ----------------------------------------------------------------------------------- prompt


def test_a_prompt_gives_the_api_scene_and_plan(studio):
    answer = studio.scene_and_layout(PROMPT, seed=3)
    scene = compose.parse(PROMPT)
    planned = compose.plan(scene, seed=3)
    assert answer["scene"] == scene.to_dict()
    assert [item["box"] for item in answer["layout"]["objects"]] == [list(region.box) for region in planned.regions]
    assert [item["group"] for item in answer["layout"]["objects"]] == [region.group for region in planned.regions]
    assert answer["relations"]["relations"] == [
        {"label": "circle left_of square", "predicate": "left_of", "holds": True, "regions": [0, 1], "broken": []}]
    assert "relation: [0] left_of [1]" in answer["description"]


@pytest.mark.parametrize("prompt, argv", [
    ("", ("parse", "")),
    ("hello there", ("parse", "hello there")),
    ("nine circles", ("layout", "nine circles")),
    ("a circle left of", ("parse", "a circle left of")),
])
def test_bad_prompts_get_the_cli_s_message(client, capsys, prompt, argv):
    response = client.post("/api/scene", json={"prompt": prompt})
    assert response.status_code == 400
    assert response.json()["error"] == cli_error(capsys, *argv)


def test_a_request_over_the_world_s_limit_is_refused_before_the_model_with_the_cli_s_message(client, studio, capsys):
    page = studio.scene_and_layout("two red circles")["layout"]
    page["objects"] = [dict(page["objects"][0], box=[0.1 * k, 0.0, 0.1 * k + 0.09, 0.09]) for k in range(9)]
    assert "at most 8 objects" in studio.check_layout(page)["limit"]
    response = client.post("/api/generate", json={"layout": page, "methods": ["compose"]})
    assert response.status_code == 400
    assert response.json()["error"] == cli_error(capsys, "layout", "9 red circles")
    for request, message in (({"prompt": PROMPT, "steps": 1000}, "--steps 1000"),
                             ({"prompt": PROMPT, "methods": ["magic"]}, "--method 'magic': choose one of"),
                             ({"prompt": PROMPT, "seed": -1}, "--seed -1")):
        response = client.post("/api/generate", json=request)
        assert response.status_code == 400 and response.json()["error"].startswith(message)


# --------------------------------------------------------------------------- edited boxes


def test_dragging_a_box_across_breaks_the_relation_and_names_the_regions(studio):
    page = studio.scene_and_layout(PROMPT)["layout"]
    page = moved(moved(page, "circle", [0.70, 0.40, 0.90, 0.60]), "square", [0.10, 0.40, 0.30, 0.60])
    relation, = studio.check_layout(page)["relations"]["relations"]
    assert relation["holds"] is False and relation["broken"] == [[0, 1]]
    back = moved(page, "circle", [0.02, 0.02, 0.08, 0.08])
    assert studio.check_layout(back)["relations"]["relations"][0]["holds"] is True


def test_relations_judge_every_member_and_locations_every_box(studio):
    page = studio.scene_and_layout("a red circle to the left of two blue squares")["layout"]
    squares = [index for index, item in enumerate(page["objects"]) if "square" in item["phrase"]]
    page["objects"][squares[1]]["box"] = [0.02, 0.80, 0.12, 0.90]  # one square now left of the circle
    circle = next(index for index, item in enumerate(page["objects"]) if "circle" in item["phrase"])
    page["objects"][circle]["box"] = [0.40, 0.40, 0.50, 0.50]
    relation, = studio.check_layout(page)["relations"]["relations"]
    assert relation["broken"] == [[circle, squares[1]]]
    located = studio.scene_and_layout("a star on the left")["layout"]
    located["objects"][0]["box"] = [0.8, 0.4, 0.95, 0.55]
    entry, = studio.check_layout(located)["relations"]["relations"]
    assert entry["predicate"] == "location" and not entry["holds"]


def test_added_deleted_and_relabelled_boxes_give_the_scene_the_boxes_show(studio):
    page = studio.scene_and_layout("a red circle to the left of two blue squares")["layout"]
    page["objects"].append({"phrase": "a green star", "box": [0.4, 0.05, 0.6, 0.25], "group": None})
    scene = studio.check_layout(page)["scene"]
    assert [(group["noun"], group["color"], group["count"]) for group in scene["objects"]] == [
        ("circle", "red", 1), ("square", "blue", 2), ("star", "green", 1)]
    square = next(index for index, item in enumerate(page["objects"]) if "square" in item["phrase"])
    del page["objects"][square]
    assert studio.check_layout(page)["scene"]["objects"][1]["count"] == 1
    circle = next(item for item in page["objects"] if "circle" in item["phrase"])
    circle["phrase"] = "a yellow triangle"
    answer = studio.check_layout(page)
    assert sorted(group["noun"] for group in answer["scene"]["objects"]) == ["square", "star", "triangle"]
    assert answer["scene"]["relations"] == [] and answer["relations"]["relations"] == []


def test_the_page_s_boxes_get_the_layout_file_errors(studio):
    page = studio.scene_and_layout(PROMPT)["layout"]
    page["objects"][0]["box"] = [0.7, 0.1, 0.4, 0.3]
    with pytest.raises(ValueError, match=r"objects\[0\]\.box: x0 \(0\.7\) must be less than x1 \(0\.4\)"):
        studio.check_layout(page)


# ------------------------------------------------------------------------------------ files


@pytest.mark.parametrize("name, extra", [
    ("shapes_boxes.json", ()), ("shapes_boxes.yaml", ()), ("lmd_car_truck.txt", ()), ("spec_polygon.json", ()),
    ("shapes_sketch.yaml", ("shapes_sketch.jpg",)), ("office_sketch.json", ("office_sketch.png",)),
])
def test_every_layout_file_format_reads_from_uploaded_bytes_as_from_disk(name, extra):
    files = [upload(example_path(name))] + [upload(example_path(name).parent / picture) for picture in extra]
    from_bytes = read_uploaded_layout(files)
    from_disk = read_layout(example_path(name))
    assert from_bytes.regions == from_disk.regions
    assert (from_bytes.prompt, from_bytes.background) == (from_disk.prompt, from_disk.background)


def test_opened_files_reopen_with_their_prompt_s_relations_after_a_save(studio):
    page = studio.scene_and_layout("a red circle to the left of two blue squares")["layout"]
    saved = studio.save_layout(page, "json")
    assert json.loads(saved["text"])["format"] == "compose.layout/v1" and saved["filename"] == "layout.json"
    reopened = studio.open_files([Upload("layout.json", saved["text"].encode())])
    assert [item["box"] for item in reopened["layout"]["objects"]] == [
        pytest.approx(item["box"], abs=1e-9) for item in page["objects"]]
    assert reopened["relations"]["relations"][0]["label"] == "circle left_of square"
    yaml_text = studio.save_layout(page, "yaml")["text"]
    assert studio.open_files([Upload("layout.yaml", yaml_text.encode())])["layout"]["objects"] == reopened["layout"]["objects"]


def test_upload_errors_name_the_file_and_the_rule(capsys, tmp_path):
    broken = b'{"format": "compose.layout/v1", "objects": [}'
    (tmp_path / "broken.json").write_bytes(broken)
    with pytest.raises(ValueError) as error:
        read_uploaded_layout([Upload("broken.json", broken)])
    assert str(error.value) == cli_error(capsys, "layout", "--from", str(tmp_path / "broken.json")).replace(
        str(tmp_path) + "/", "")
    legend = json.dumps({"format": "compose.sketch/v1", "image": "paint.png", "legend": {"#ff0000": "a red circle"}})
    cases = [
        ([Upload("l.json", legend.encode()), Upload("paint.png", b"this is no picture")],
         "paint.png is not a PNG or JPEG picture (by its content)"),
        ([Upload("l.json", legend.encode())], "'paint.png' was not uploaded with it"),
        ([Upload("l.json", legend.replace("paint.png", "../../../etc/passwd").encode()), Upload("paint.png", b"x")],
         "was not uploaded with it"),
        ([Upload("paint.png", b"\x89PNG")], "a painted picture is read through its legend"),
        ([Upload("../layout.json", b"{}")], "no folders"),
        ([Upload("notes.exe", b"{}")], "unknown layout file extension"),
        ([Upload("big.json", b" " * (MAX_FILE_BYTES + 1))], f"at most {MAX_FILE_BYTES:,} bytes"),
        ([Upload(f"f{k}.json", b"{}") for k in range(MAX_FILES + 1)], f"at most {MAX_FILES} are read"),
        ([Upload("a.json", b"{}"), Upload("b.json", b"{}")], "upload one at a time"),
        ([Upload("latin.txt", b"caf\xe9")], "is not UTF-8 text"),
        ([], "no file was uploaded"),
    ]
    for files, message in cases:
        with pytest.raises(ValueError, match=None) as error:
            read_uploaded_layout(files)
        assert message in str(error.value), (message, str(error.value))


def test_a_huge_picture_is_refused_from_its_header_before_decoding():
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (6000, 6000), 1).save(buffer, format="PNG")  # tiny file, 36 megapixels
    legend = json.dumps({"format": "compose.sketch/v1", "image": "huge.png", "legend": {"#ff0000": "a red circle"}})
    with pytest.raises(ValueError, match="at most 4096 pixels a side"):
        read_uploaded_layout([Upload("legend.json", legend.encode()), Upload("huge.png", buffer.getvalue())])


def test_brush_strokes_become_painted_regions(studio):
    picture = np.full((128, 128, 3), 255, np.uint8)
    picture[20:60, 30:90] = (230, 25, 75)
    picture[80:120, 10:40] = (60, 180, 75)
    answer = studio.painted_sketch(base64.b64encode(png_bytes(picture)).decode(),
                                   {"#e6194b": "a red square", "#3cb44b": "a green star"})
    red, green = answer["objects"]
    assert red["phrase"] == "a red square" and red["polygons"]
    assert red["box"] == pytest.approx([30.5 / 128, 20.5 / 128, 89.5 / 128, 59.5 / 128], abs=0.01)
    assert green["box"][1] > 0.6
    with pytest.raises(ValueError, match="not painted"):
        studio.painted_sketch(base64.b64encode(png_bytes(picture)).decode(), {"#4363d8": "a blue circle"})


# ----------------------------------------------------------------------------------- server


def test_the_server_serves_the_page_and_refuses_what_it_must(studio):
    guarded = TestClient(create_app(studio, allowed_hosts=["127.0.0.1", "localhost"]), base_url="http://127.0.0.1")
    assert "compose studio" in guarded.get("/").text
    assert guarded.get("/static/studio.js").status_code == 200
    assert guarded.get("/static/server.py").status_code == 404
    assert guarded.get("/static/../server.py").status_code == 404
    assert guarded.get("/api/info").json()["model"] == "bundled"
    assert guarded.get("/", headers={"host": "evil.example:8765"}).status_code == 403
    response = guarded.post("/api/scene", content=json.dumps({"prompt": PROMPT}), headers={"content-type": "text/plain"})
    assert response.status_code == 415
    response = guarded.post("/api/scene", content="{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400 and response.json()["error"] == "the request is not valid JSON"
    response = guarded.post("/api/open", content=b"{}", headers={"content-type": "application/json",
                                                                  "content-length": str(MAX_BODY_BYTES + 1)})
    assert response.status_code == 413
    response = guarded.post("/api/open", json={"files": [{"name": "x.json", "data": "%%%"}]})
    assert response.status_code == 400 and "not valid base64" in response.json()["error"]
    response = guarded.post("/api/example", json={"name": "../../pyproject.toml"})
    assert response.status_code == 400 and "no example layout is called that" in response.json()["error"]
    assert guarded.post("/api/example", json={"name": "shapes_boxes.json"}).json()["layout"]["objects"]


def test_the_studio_binds_to_loopback_by_default():
    import inspect

    from compose.studio import server

    assert inspect.signature(server.serve).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(StudioServer).parameters["host"].default == "127.0.0.1"
    studio_parser = [action for action in main.__globals__["build_parser"]()._subparsers._group_actions[0].choices["studio"]._actions
                     if action.dest == "host"][0]
    assert studio_parser.default == "127.0.0.1"


@pytest.mark.slow
def test_generate_draws_compose_and_plain_and_reads_each_back(client):
    layout = client.post("/api/scene", json={"prompt": PROMPT}).json()["layout"]
    response = client.post("/api/generate", json={"layout": layout, "prompt": PROMPT, "methods": ["compose", "plain"],
                                                  "seed": 0, "steps": 12, "attention": True})
    assert response.status_code == 200, response.text
    answer = response.json()
    compose_picture, plain_picture = answer["pictures"]
    assert (compose_picture["method"], plain_picture["method"]) == ("compose", "plain")
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(compose_picture["image"]))))
    assert image.shape == (128, 128, 3)
    record = compose_picture["record"]
    assert [item["phrase"] for item in record["layout"]["objects"]] == [item["phrase"] for item in layout["objects"]]
    assert [item["box"] for item in record["layout"]["objects"]] == [
        pytest.approx(item["box"], abs=1e-9) for item in layout["objects"]]
    check = compose_picture["check"]
    assert check["available"] and [item["phrase"] for item in check["objects"]] == ["a red circle", "a blue square"]
    assert check["passed"] == all(item["right"] for item in check["objects"]) or check["extras"] or check["details"]
    assert [item["phrase"] for item in compose_picture["attention"]] == ["a red circle", "a blue square"]
    assert record["check"] == check and record["scene"]["prompt"] == PROMPT


class SlowGenerator:
    """A stand-in model that records how many calls run at once (the queue must keep it at one)."""

    def __init__(self, seconds: float = 0.02):
        self.seconds, self.running, self.most, self.calls = seconds, 0, 0, 0
        self.lock = threading.Lock()

    def __call__(self, prompt=None, layout=None, method="compose", seed=0, steps=25, attention=False):
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.calls += 1
        time.sleep(self.seconds)
        with self.lock:
            self.running -= 1
        image = np.full((64, 64, 3), 255, np.uint8)
        return SimpleNamespace(image=image, scene=None, layout=layout, attention=None,
                               to_dict=lambda: {"method": method, "seed": seed})


def test_generation_runs_one_at_a_time_and_answers_every_queued_request():
    import httpx

    fake = SlowGenerator()
    server = StudioServer(Studio(generator=fake), port=0).start()
    try:
        def ask(seed):
            return httpx.post(server.url + "api/generate", json={"prompt": PROMPT, "methods": ["compose"], "seed": seed},
                              timeout=60)
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(ask, range(20)))
    finally:
        server.stop()
    assert [answer.status_code for answer in answers] == [200] * 20
    assert sorted(answer.json()["pictures"][0]["record"]["seed"] for answer in answers) == list(range(20))
    assert fake.calls == 20 and fake.most == 1


def test_a_full_queue_refuses_at_once_with_a_clear_error():
    import httpx

    server = StudioServer(Studio(generator=SlowGenerator(0.3)), port=0, queue_limit=2).start()
    try:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda seed: httpx.post(server.url + "api/generate", timeout=60, json={
                "prompt": PROMPT, "methods": ["compose"], "seed": seed}), range(6)))
    finally:
        server.stop()
    codes = sorted(answer.status_code for answer in answers)
    assert codes.count(200) >= 2 and 503 in codes
    refused = next(answer for answer in answers if answer.status_code == 503)
    assert "the studio is busy" in refused.json()["error"]


def test_a_port_in_use_is_a_one_line_error(capsys):
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    try:
        message = cli_error(capsys, "studio", "--port", str(holder.getsockname()[1]))
    finally:
        holder.close()
    assert "cannot listen there" in message and "choose another --port" in message
    assert cli_error(capsys, "studio", "--port", "99999") == "--port 99999: give a port from 0 to 65535 (0: any free one)"


def test_a_bad_request_is_refused_at_once_even_while_a_picture_is_drawn():
    import httpx

    fake = SlowGenerator(1.5)
    server = StudioServer(Studio(generator=fake), port=0).start()
    try:
        with ThreadPoolExecutor(1) as pool:
            drawing = pool.submit(httpx.post, server.url + "api/generate", timeout=60,
                                  json={"prompt": PROMPT, "methods": ["compose"]})
            while fake.running == 0:
                time.sleep(0.01)
            refused = httpx.post(server.url + "api/generate", json={"prompt": "nine circles"}, timeout=60)
            still_drawing = fake.running == 1
            typed = httpx.post(server.url + "api/scene", json={"prompt": PROMPT}, timeout=60)
            assert fake.running == 1 and typed.status_code == 200  # typing is answered beside the drawing
            assert drawing.result().status_code == 200
    finally:
        server.stop()
    assert refused.status_code == 400 and "at most 8 objects" in refused.json()["error"] and still_drawing
