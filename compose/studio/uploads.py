"""Layout files uploaded from the page, read in memory with the layout-file readers.

Every format of compose/specs/layout-files.md is read: ``compose.layout/v1`` JSON or YAML, a
``compose.sketch/v1`` legend with its painted PNG or JPEG, and LMD-style text. The files arrive as
bytes; no path from the page is ever opened. A sketch's reader needs its picture as a file beside the
legend, so only then the uploaded picture is written into a private temporary folder under its
name (the upload's own, checked to be a plain file name), and the legend's ``image`` must name one of
the uploaded files: its folders, if any, are ignored, so no path is ever followed.

Uploads are bounded: at most MAX_FILES files of at most MAX_FILE_BYTES each, pictures at most
MAX_PICTURE_SIDE pixels a side (checked from the header, before any decoding).
"""

from __future__ import annotations

import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from compose.scene import Layout

MAX_FILES = 4
MAX_FILE_BYTES = 5_000_000
MAX_PICTURE_SIDE = 4096
DOCUMENT_SUFFIXES = (".json", ".yaml", ".yml", ".txt")
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
_SAFE_NAME = re.compile(r"[\w][\w .()+-]{0,120}\Z")


@dataclass(frozen=True)
class Upload:
    """One uploaded file: its name as the person's computer called it, and its bytes."""

    name: str
    data: bytes


def check_uploads(files: list[Upload]) -> None:
    """Raise ValueError unless the uploads are within the bounds and have plain file names."""
    if not files:
        raise ValueError("no file was uploaded; choose a layout file (.json, .yaml, .yml, .txt), "
                         "or a sketch legend together with its picture")
    if len(files) > MAX_FILES:
        raise ValueError(f"{len(files)} files were uploaded; at most {MAX_FILES} are read at once "
                         "(a layout file, or a sketch legend and its picture)")
    for item in files:
        if not _SAFE_NAME.match(item.name or ""):
            raise ValueError(f"upload {item.name!r}: a file name is letters, digits, spaces and . ( ) + - _ "
                             "(no folders); rename the file")
        if len(item.data) > MAX_FILE_BYTES:
            raise ValueError(f"{item.name}: is {len(item.data):,} bytes; an uploaded file may have at most "
                             f"{MAX_FILE_BYTES:,} bytes")


def read_uploaded_layout(files: list[Upload]) -> Layout:
    """The layout in the uploaded files: exactly one layout document (with its picture for a sketch).

    Errors are the readers' own `LayoutFileError`s, naming the uploaded file as `compose layout --from`
    names a file on disk."""
    from compose.layout_files import SKETCH_FORMAT, LayoutFileError, layout_from_dict, parse_lmd_text
    from compose.layout_files.documents import load_document

    check_uploads(files)
    documents = [item for item in files if Path(item.name).suffix.lower() in DOCUMENT_SUFFIXES]
    pictures = [item for item in files if Path(item.name).suffix.lower() in PICTURE_SUFFIXES]
    others = [item.name for item in files if item not in documents and item not in pictures]
    if others:
        raise LayoutFileError(others[0], "extension", (
            "unknown layout file extension; allowed: .json, .yaml, .yml (compose.layout/v1 or "
            f"{SKETCH_FORMAT}), .txt (LMD-style text), and .png/.jpg/.jpeg for a sketch's picture"))
    if len(documents) != 1:
        if not documents:
            raise LayoutFileError(pictures[0].name, "extension", (
                f"a painted picture is read through its legend; upload a {SKETCH_FORMAT} legend "
                f'(.json or .yaml) with "image": "{pictures[0].name}" together with it'))
        raise ValueError(f"{len(documents)} layout documents were uploaded "
                         f"({', '.join(item.name for item in documents)}); upload one at a time")
    document = documents[0]
    text = _text(document)
    if document.name.lower().endswith(".txt"):
        return parse_lmd_text(text, source=document.name)
    data = load_document(text, document.name, yaml_syntax=not document.name.lower().endswith(".json"))
    if isinstance(data, dict) and data.get("format") == SKETCH_FORMAT:
        return _read_sketch(data, document.name, pictures)
    return layout_from_dict(data, source=document.name)


def read_painted_sketch(picture: bytes, legend: dict, prompt: str | None = None) -> Layout:
    """A layout from a sketch painted on the page: its PNG and its legend {colour: phrase}."""
    from compose.layout_files import SKETCH_FORMAT

    data = {"format": SKETCH_FORMAT, "image": "painted.png", "legend": legend}
    if prompt:
        data["prompt"] = prompt
    return _read_sketch(data, "the painted sketch", [Upload("painted.png", picture)])


def _read_sketch(data: dict, source: str, pictures: list[Upload]) -> Layout:
    """Read a sketch legend with its uploaded picture, written alone into a private temporary folder."""
    from compose.layout_files import LayoutFileError, layout_from_dict

    wanted = data.get("image")
    named = [item for item in pictures if isinstance(wanted, str) and item.name == Path(wanted).name]
    if not isinstance(wanted, str) or not named:
        raise LayoutFileError(source, "image", (
            f"the legend's picture {wanted!r} was not uploaded with it; choose the legend and its picture "
            "(PNG or JPEG) together"))
    picture = named[0].data
    _check_picture_size(picture, named[0].name, source)
    with tempfile.TemporaryDirectory(prefix="compose-studio-") as folder:  # created 0700: private
        (Path(folder) / named[0].name).write_bytes(picture)  # a plain name (check_uploads), never a path
        return layout_from_dict({**data, "image": named[0].name}, source=source, base_dir=folder)


def _check_picture_size(picture: bytes, name: str, source: str) -> None:
    """Refuse a picture too large to decode safely, from its header alone (a small PNG may hold a huge
    picture); the sketch reader tells a non-picture apart by its content."""
    from PIL import Image

    from compose.layout_files import LayoutFileError

    too_large = (f"{name} is too large a picture; an uploaded sketch may be at most {MAX_PICTURE_SIDE} "
                 "pixels a side: scale it down")
    try:
        with Image.open(io.BytesIO(picture)) as image:
            width, height = image.size
    except Image.DecompressionBombError:
        raise LayoutFileError(source, "image", too_large) from None
    except Exception:  # noqa: BLE001 - not a picture PIL knows: the sketch reader names the problem
        return
    if max(width, height) > MAX_PICTURE_SIDE:
        raise LayoutFileError(source, "image", (
            f"{name} has {width} x {height} pixels; an uploaded sketch may be at most {MAX_PICTURE_SIDE} "
            "pixels a side: scale it down"))


def _text(upload: Upload) -> str:
    from compose.layout_files import LayoutFileError

    try:
        return upload.data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LayoutFileError(upload.name, "file", (
            f"is not UTF-8 text (byte 0x{upload.data[error.start]:02x} at offset {error.start}); "
            "layout files are UTF-8 JSON, YAML or text")) from None
