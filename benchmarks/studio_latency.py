"""How fast `compose studio` answers, measured against a running server (issue 15, "Measured").

Three figures, each end to end over HTTP as the page asks:
1. prompt -> scene + layout: POST /api/scene for a set of prompts, repeated; and, with a browser
   (Playwright + Debian's chromium), the page's own figure: from the prompt's input event to the
   boxes drawn on the canvas (`studio.state.shownMs`);
2. generate: POST /api/generate, 64 px, 25 steps, compose alone (no plain beside it, no attention
   maps), sequential requests after a warm-up; also the page's default request (compose and plain
   side by side with attention maps) for reference;
3. 20 generate requests sent at once: every one must be answered (the model's queue draws them one at
   a time), with the slowest answer's wait.

Usage: python benchmarks/studio_latency.py [--url http://127.0.0.1:8765/] [--repeats 15] [--out FILE.json]
Without --url it starts `compose studio --port 0` itself (the same command a person runs) and stops
it afterwards. Set OMP_NUM_THREADS for the server's torch threads (it inherits this environment).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

PROMPTS = [
    "a red circle to the left of two blue squares",
    "two yellow stars above three purple diamonds",
    "a small red circle to the left of two blue squares, and a yellow star above the squares",
    "a green triangle between a blue circle and an orange square",
    "three stars on the left and no circles",
    "a big purple diamond below a small green star",
    "a cat sitting on a wooden table next to a lamp",
    "four blue circles",
]
GENERATE_PROMPT = "a red circle to the left of two blue squares"


def post(client, url: str, path: str, body: dict, timeout: float = 120.0):
    started = time.perf_counter()
    response = client.post(url + path, json=body, timeout=timeout)
    return response, time.perf_counter() - started


def summary(seconds: list[float]) -> dict:
    ordered = sorted(seconds)
    return {"n": len(ordered), "median_ms": round(1000 * statistics.median(ordered), 2),
            "p90_ms": round(1000 * ordered[int(0.9 * (len(ordered) - 1))], 2),
            "min_ms": round(1000 * ordered[0], 2), "max_ms": round(1000 * ordered[-1], 2)}


def measure_scene(client, url: str, repeats: int) -> dict:
    for prompt in PROMPTS:  # warm-up: the parser's first call loads spaCy
        post(client, url, "api/scene", {"prompt": prompt})
    times = []
    for _ in range(repeats):
        for prompt in PROMPTS:
            response, seconds = post(client, url, "api/scene", {"prompt": prompt})
            response.raise_for_status()
            times.append(seconds)
    return summary(times)


def measure_scene_in_browser(url: str, repeats: int) -> dict | None:
    """From the prompt's input event to its boxes drawn, as the page measures it (None without a browser)."""
    chromium = next((path for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(path)), None)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if chromium is None:
        return None
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]")
        for round_number in range(repeats + 1):
            for prompt in PROMPTS:
                page.fill("#prompt", prompt)
                page.wait_for_function(f"studio.state.layout.prompt === {json.dumps(prompt)} && "
                                       "studio.state.shownMs !== null && !studio.state.sceneInFlight")
                if round_number:  # the first round is the warm-up
                    times.append(page.evaluate("studio.state.shownMs") / 1000)
                page.fill("#prompt", "")
                page.wait_for_function("!studio.state.sceneInFlight")
        browser.close()
    return summary(times)


def measure_generate(client, url: str, repeats: int, methods: list[str], attention: bool) -> dict:
    body = {"prompt": GENERATE_PROMPT, "methods": methods, "steps": 25, "attention": attention}
    for seed in range(2):  # warm-up
        post(client, url, "api/generate", {**body, "seed": seed})[0].raise_for_status()
    times, server_times = [], []
    for seed in range(repeats):
        response, seconds = post(client, url, "api/generate", {**body, "seed": seed})
        response.raise_for_status()
        picture = response.json()["pictures"][0]["record"]
        assert picture["size"] == [64, 64] and picture["steps"] == 25
        times.append(seconds)
        server_times.append(response.json()["seconds"])
    return {**summary(times), "server_median_ms": round(1000 * statistics.median(server_times), 2)}


def measure_queue(url: str, count: int = 20) -> dict:
    import httpx

    def ask(seed: int):
        with httpx.Client() as client:
            response, seconds = post(client, url, "api/generate", {"prompt": GENERATE_PROMPT, "methods": ["compose"],
                                                                   "steps": 25, "seed": seed}, timeout=600)
            return response.status_code, seconds, response.json()["pictures"][0]["record"]["seed"] \
                if response.status_code == 200 else None

    started = time.perf_counter()
    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(ask, range(count)))
    wall = time.perf_counter() - started
    return {"sent": count, "answered_200": sum(status == 200 for status, _, _ in answers),
            "seeds_back": sorted(seed for _, _, seed in answers if seed is not None) == list(range(count)),
            "wall_s": round(wall, 3), "slowest_answer_s": round(max(seconds for _, seconds, _ in answers), 3),
            "per_picture_s": round(wall / count, 3)}


def start_server() -> tuple[subprocess.Popen, str]:
    """`compose studio --port 0` in a child process; its printed address."""
    process = subprocess.Popen([sys.executable, "-m", "compose.cli", "studio", "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if "open http" in line:
            return process, line.split("open ", 1)[1].split()[0]
    raise RuntimeError(f"compose studio did not start (exit status {process.wait()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running studio (default: start one)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", help="write the figures here as JSON")
    args = parser.parse_args()
    import httpx

    process = None
    url = args.url
    if url is None:
        process, url = start_server()
    url = url if url.endswith("/") else url + "/"
    try:
        with httpx.Client() as client:
            info = client.get(url + "api/info").json()
            results = {
                "url": url, "model": info["model"], "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                "machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
                "scene_http": measure_scene(client, url, args.repeats),
                "scene_shown_in_browser": measure_scene_in_browser(url, max(1, args.repeats // 5)),
                "generate_compose_64px_25_steps": measure_generate(client, url, args.repeats, ["compose"], False),
                "generate_page_default_compose_plain_attention": measure_generate(
                    client, url, max(3, args.repeats // 3), ["compose", "plain"], True),
            }
        results["queue_20_at_once"] = measure_queue(url)
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
