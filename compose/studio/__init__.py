"""`compose studio`: draw a layout in the browser and watch it generate.

A local web server (127.0.0.1 by default) and one page: type a prompt and see its parsed scene and
planned boxes; drag, resize, add, delete, re-label and paint boxes and see which relations they break;
generate with compose and plain side by side and see what the checker reads back; open and save
layout files of every format in compose/specs/layout-files.md.

- `actions`: one function per action of the page, the Python API at work, JSON-ready dicts in and out;
- `layouts`: the page's layout JSON to and from `Layout`, and the scene edited boxes show;
- `relations`: which relations and locations the boxes keep or break (the planner's own rules);
- `uploads`: uploaded layout files read in memory, bounded;
- `server`: the FastAPI routes over the actions, the model's queue, `serve` (the CLI's entry);
- `static/`: the page (HTML, JavaScript, CSS).

The web dependencies (FastAPI, uvicorn) are the optional extra ``pip install -e ".[studio]"``; nothing
else in compose imports this package.
"""
