"""Writing output files whole or not at all: a temporary file beside the target, then a rename.

A stopped or failing write never leaves a partial file, and never replaces earlier output with one
(every `compose` command keeps this promise: never a partial output file).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def temporary_beside(path: str | os.PathLike, make_parents: bool = False):
    """Yield a temporary path in `path`'s folder; when the block ends normally it is renamed onto `path`,
    and after an error it is removed, leaving `path` as it was."""
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_atomically(path: str | os.PathLike, data: bytes | str, make_parents: bool = False) -> None:
    """Write bytes, or text as UTF-8, to `path` whole or not at all."""
    with temporary_beside(path, make_parents) as temporary:
        if isinstance(data, str):
            temporary.write_text(data, encoding="utf-8")
        else:
            temporary.write_bytes(data)
