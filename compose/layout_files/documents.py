"""Reading a layout file's text and its JSON or YAML safely: nothing in a file is ever executed.

JSON is read with `json`, YAML with a `yaml.SafeLoader` subclass that only adds a check for duplicate
keys; syntax errors name the line and column.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from compose.layout_files.common import LayoutFileError

MAX_FILE_BYTES = 50_000_000


def read_text(path: Path) -> str:
    source = str(path)
    if not path.exists():
        raise LayoutFileError(source, "file", "not found; check the path")
    if not path.is_file():
        raise LayoutFileError(source, "file", "is not a file (a folder?); give the path of a layout file")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise LayoutFileError(source, "file", (
            f"is {size} bytes; layout files are small text files (at most {MAX_FILE_BYTES} bytes)"))
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LayoutFileError(source, "file", (
            f"is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}); "
            "layout files are UTF-8 JSON, YAML or text")) from None


class _DuplicateKey(Exception):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def load_document(text: str, source: str, yaml_syntax: bool) -> Any:
    """Parse JSON or YAML text into plain data; syntax errors name the line and column."""
    if not yaml_syntax:
        try:
            return json.loads(text, object_pairs_hook=_unique_pairs)
        except json.JSONDecodeError as error:
            raise LayoutFileError(source, f"line {error.lineno}, column {error.colno}", (
                f"not valid JSON ({error.msg}); fix the syntax (JSON needs double quotes, no trailing commas)"
            )) from None
        except _DuplicateKey as error:
            raise LayoutFileError(source, f"key {json.dumps(error.key)}", (
                "appears twice in one object; give each key once")) from None
        except RecursionError:
            raise LayoutFileError(source, "document", "is nested too deeply to be a layout") from None
    import yaml

    try:
        return yaml.load(text, Loader=_yaml_loader())  # a SafeLoader subclass: no objects, no code
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "document"
        problem = error.problem or error.context or "syntax error"
        if isinstance(error, yaml.constructor.ConstructorError):
            rule = (f"not valid YAML for a layout ({problem}); layout files hold plain data (mappings, "
                    "lists, text, numbers) with each key once, and no tags such as !!python/...")
        else:
            rule = f"not valid YAML ({problem}); fix the syntax (and quote colours such as \"#ff0000\")"
        raise LayoutFileError(source, where, rule) from None
    except yaml.YAMLError as error:
        raise LayoutFileError(source, "document", f"not valid YAML ({error})") from None
    except RecursionError:
        raise LayoutFileError(source, "document", "is nested too deeply to be a layout") from None


def _yaml_loader():
    """yaml.SafeLoader plus one check: a key given twice in one mapping is an error, not overwritten."""
    import yaml

    class UniqueKeySafeLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # unhashable: SafeLoader reports it below
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark)
            seen.add(key)
        return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)

    UniqueKeySafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return UniqueKeySafeLoader
