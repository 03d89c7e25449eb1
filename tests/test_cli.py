"""The command line (compose/specs/cli.md): outputs, exit codes, one-line errors, no partial files."""

import json
import subprocess
import sys

import numpy as np
import pytest

from compose.cli import main


def run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_parse_json_is_the_scene_of_cli_md(capsys):
    status, out, err = run(capsys, "parse", "a small red circle to the left of two blue squares, with no stars", "--json")
    assert status == 0 and err == ""
    scene = json.loads(out)
    assert scene == {
        "prompt": "a small red circle to the left of two blue squares, with no stars",
        "objects": [
            {"id": 0, "noun": "circle", "phrase": "a small red circle", "count": 1, "color": "red", "size": "small",
             "location": None, "modifiers": []},
            {"id": 1, "noun": "square", "phrase": "two blue squares", "count": 2, "color": "blue", "size": None,
             "location": None, "modifiers": []}],
        "relations": [{"subject": 0, "predicate": "left_of", "object": 1, "object2": None}],
        "negations": [{"noun": "star", "color": None, "size": None}],
        "background": None,
        "style": None,
    }


def test_parse_json_of_a_scene_with_no_object_and_a_style(capsys):
    """compose/specs/scene-format.md (v1.1): empty objects, a negation's size, the optional style."""
    status, out, err = run(capsys, "parse", "a realistic photo of a scene without small backpacks", "--json")
    assert status == 0 and err == ""
    scene = json.loads(out)
    assert scene["objects"] == [] and scene["style"] == "realistic"
    assert scene["negations"] == [{"noun": "backpack", "color": None, "size": "small"}]
    status, out, _ = run(capsys, "parse", "a realistic photo of a scene without small backpacks")
    assert status == 0 and "not: small backpack" in out and "style: realistic" in out


def test_parse_prints_one_json_line_per_prompt_and_a_readable_form(capsys):
    status, out, _ = run(capsys, "parse", "a red circle", "three green stars", "--json")
    assert status == 0 and len(out.strip().splitlines()) == 2
    status, out, _ = run(capsys, "parse", "three green stars")
    assert status == 0 and "star" in out and "count 3" in out


@pytest.mark.parametrize("argv,fragment", [
    (["parse", ""], "empty"),
    (["parse", "   "], "empty"),
    (["parse", " ".join(["circle"] * 10_000)], "at most 10,000"),
    (["parse", "the and of"], "names nothing to draw"),
    (["parse", "hello there"], "names nothing to draw"),
    (["parse", "five circles: two red and two blue"], "2 + 2 = 4, not 5"),
    (["parse", "a red circle to the left of"], 'ends with the relation "to the left of"'),
    (["parse", "a red circle", "--bogus"], "unrecognized arguments: --bogus"),
    (["layout"], "give a PROMPT or --from FILE"),
    (["layout", "a red circle to the left of a blue square. The square is left of the circle."], "contradict"),
    (["layout", "nine red circles"], "9 circles: the shapes world holds at most 8 objects"),
    (["layout", "forty large red circles"], "40 circles: the shapes world holds at most 8 objects"),
    (["generate", "a red circle", "--method", "magic"], "invalid choice: 'magic'"),
    (["generate", "a red circle", "--model", "/no/such/model"], "no such file or folder"),
    (["generate", "a red circle", "--size", "64x32"], "square"),
])
def test_bad_input_exits_2_with_one_clear_line(capsys, argv, fragment):
    status, out, err = run(capsys, *argv)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert fragment in lines[0]
    assert "Traceback" not in err


def test_layout_from_prompt_is_deterministic_and_drawn(tmp_path, capsys):
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["layout", "two yellow stars above three purple diamonds", "-o", str(first), "--image",
                 str(tmp_path / "a.png"), "--seed", "4"]) == 0
    assert main(["layout", "two yellow stars above three purple diamonds", "-o", str(second), "--seed", "4"]) == 0
    assert first.read_text() == second.read_text()
    layout = json.loads(first.read_text())
    assert layout["format"] == "compose.layout/v1" and len(layout["objects"]) == 5
    assert (tmp_path / "a.png").stat().st_size > 1000


def test_layout_from_every_example_file(capsys):
    for name in ("shapes_boxes.json", "shapes_boxes.yaml", "spec_polygon.json", "office_sketch.json",
                 "shapes_sketch.yaml", "lmd_car_truck.txt"):
        status, out, err = run(capsys, "layout", "--from", f"example:{name}")
        assert status == 0, err
        assert json.loads(out)["format"] == "compose.layout/v1"


def test_a_failed_write_leaves_no_partial_file_and_keeps_earlier_output(tmp_path, capsys):
    target = tmp_path / "layout.json"
    assert main(["layout", "a red circle", "-o", str(target)]) == 0
    before = target.read_text()
    status, _, err = run(capsys, "layout", "a red circle left of a blue square. The square is left of the circle.",
                         "-o", str(target))
    assert status == 2
    assert target.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["layout.json"]


def test_help_works_without_heavy_imports():
    code = ("import sys; from compose.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'diffusers', 'spacy', 'transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().endswith("[]")
    assert "parse" in result.stdout and "generate" in result.stdout and "bench" in result.stdout


def test_generate_writes_picture_and_json_with_negative_prompt(tmp_path, capsys):
    output = tmp_path / "picture.png"
    status, _, err = run(capsys, "generate", "a red circle to the left of a blue square", "--negative", "stars",
                         "--steps", "4", "--quiet", "-o", str(output))
    assert status == 0, err
    record = json.loads(output.with_suffix(".json").read_text())
    assert record["method"] == "compose" and record["seed"] == 0 and record["steps"] == 4
    assert record["scene"]["objects"][0]["noun"] == "circle" and len(record["layout"]["objects"]) == 2
    assert {"stage1", "plan", "parse"} <= set(record["timings"])
    from PIL import Image

    assert Image.open(output).size == (128, 128), "the bundled shapes-v3 draws 128 px"


def test_a_layout_of_a_scene_without_objects_is_refused_and_its_picture_is_drawn(tmp_path, capsys):
    status, _, err = run(capsys, "layout", "a scene with no stars", "-o", str(tmp_path / "empty.json"))
    assert status == 2 and "names no object to place" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "empty.json").exists()
    status, _, err = run(capsys, "generate", "a scene with no stars", "--steps", "2", "-o", str(tmp_path / "e.png"))
    assert status == 0, err
    from PIL import Image

    assert (np.asarray(Image.open(tmp_path / "e.png")) == 255).all(), "the bundled world's empty scene"


def test_generate_repair_records_its_rounds_and_bench_reports_quality(tmp_path, capsys):
    out = tmp_path / "crowd.png"
    status, _, err = run(capsys, "generate", "five small yellow stars above three small green triangles", "--repair", "3",
                         "-o", str(out), "--quiet")
    assert status == 0, err
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["repair_rounds"] and record["repair_rounds"][-1]["passed"]
    status, _, err = run(capsys, "generate", "a red circle", "--method", "plain", "--repair", "1", "-o", str(out))
    assert status == 2 and "plain method has no layout" in err
    status, _, err = run(capsys, "bench", "single", "--limit", "1", "--seeds", "1", "--steps", "1",
                         "--methods", "compose,plain", "--attention", "--out", str(tmp_path / "bench"), "--quiet")
    assert status == 0, err
    summary = json.loads((tmp_path / "bench" / "summary.json").read_text())
    cells = summary["quality"]["overall"]
    assert cells["compose"]["median_render_difference"] is not None
    assert cells["compose"]["mean_attention_in_region"] > cells["plain"]["mean_attention_in_region"] >= 0
    report = (tmp_path / "bench" / "report.html").read_text()
    assert "Picture quality" in report
    records = [json.loads(line) for line in (tmp_path / "bench" / "results.jsonl").read_text().splitlines()]
    failed = [record for record in records if not record["correct_strict"]]
    assert failed, "one step draws at least one wrong picture (measured), whose maps the report must show"
    for record in records:
        assert ("attention_image" in record) == (not record["correct_strict"]), "maps saved for failed pictures only"
    for record in failed:
        assert (tmp_path / "bench" / record["attention_image"]).is_file()
        assert f"src='{record['attention_image']}'" in report
    assert "Attention maps of failed pictures" in report


def test_outputs_get_ordinary_file_permissions(tmp_path):
    import os
    import stat

    from compose.files import write_atomically

    previous = os.umask(0o022)
    try:
        write_atomically(tmp_path / "out.json", "{}")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o644, "readable by others, as any new file"
    assert [path.name for path in tmp_path.iterdir()] == ["out.json"]
