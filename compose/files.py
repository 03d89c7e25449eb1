"""Writing output files whole or not at all: a temporary file beside the target, then a rename.

A stopped or failing write never leaves a partial file, and never replaces earlier output with one
(every `compose` command keeps this promise: never a partial output file).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


@contextlib.contextmanager
def temporary_beside(path: str | os.PathLike, make_parents: bool = False):
    """Yield a temporary path in `path`'s folder; when the block ends normally it is renamed onto `path`,
    and after an error it is removed, leaving `path` as it was."""
    path = Path(path)
    if make_parents:
        path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _new_file(path.parent, f".{path.name}.")
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _new_file(folder: Path, prefix: str) -> str:
    """Create an empty file of a fresh name in `folder` with the permissions an ordinary new file gets
    (0666 less the umask; mkstemp's 0600 would leave every output readable by its owner alone)."""
    for _ in range(100):
        name = folder / f"{prefix}{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return str(name)
        except FileExistsError:
            continue
    raise OSError(f"{folder}: could not create a temporary file beside the output")


def write_atomically(path: str | os.PathLike, data: bytes | str, make_parents: bool = False) -> None:
    """Write bytes, or text as UTF-8, to `path` whole or not at all."""
    with temporary_beside(path, make_parents) as temporary:
        if isinstance(data, str):
            temporary.write_text(data, encoding="utf-8")
        else:
            temporary.write_bytes(data)
