"""Training checkpoints: safetensors for every tensor, JSON for the rest, written atomically; no pickle.

A checkpoint is a folder `checkpoint/` inside a run folder, holding one safetensors file per part
(model weights, EMA, optimizer moments) and `trainer_state.json` (step, samples seen, wall time...).
It is written to `checkpoint.tmp` and renamed into place, the previous one moved to `checkpoint.old`
for the instant between the two renames, so a run stopped at any moment leaves a whole checkpoint.
Used by both trainers (compose.training for the text-to-image model, compose.vae_training for the VAE).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import torch

from compose.files import write_atomically

logger = logging.getLogger(__name__)

STATE_FILE = "trainer_state.json"


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """The optimizer's per-parameter state as flat named tensors ("3.exp_avg"), for safetensors."""
    tensors = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"{index}.{key}"] = value if torch.is_tensor(value) else torch.tensor(value)
    return tensors


def load_optimizer_tensors(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    """The inverse of optimizer_tensors: put saved moments back into `optimizer`."""
    state_dict = optimizer.state_dict()
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    state_dict["state"] = state
    optimizer.load_state_dict(state_dict)


def has_checkpoint(folder: Path) -> bool:
    return any((Path(folder) / name / STATE_FILE).is_file() for name in ("checkpoint", "checkpoint.old"))


def write_checkpoint(folder: Path, parts: dict[str, dict[str, torch.Tensor]], trainer_state: dict) -> None:
    """Write `parts` (file stem -> named tensors) and the trainer state to folder/checkpoint atomically."""
    from safetensors.torch import save_file

    folder = Path(folder)
    temporary, final = folder / "checkpoint.tmp", folder / "checkpoint"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir(parents=True)
    for stem, tensors in parts.items():
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, temporary / f"{stem}.safetensors")
    (temporary / STATE_FILE).write_text(json.dumps(trainer_state, indent=2), encoding="utf-8")
    if final.exists():
        old = folder / "checkpoint.old"
        shutil.rmtree(old, ignore_errors=True)
        final.rename(old)
        temporary.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        temporary.rename(final)


def checkpoint_folder(folder: Path) -> Path:
    """folder/checkpoint, or checkpoint.old after a stop between write_checkpoint's two renames."""
    folder = Path(folder)
    checkpoint = folder / "checkpoint"
    if not checkpoint.is_dir() and (folder / "checkpoint.old").is_dir():
        return folder / "checkpoint.old"
    return checkpoint


def read_checkpoint(folder: Path, stems: list[str]) -> tuple[dict[str, dict[str, torch.Tensor]], dict]:
    """The named tensor files `stems` and the trainer state of the run folder's checkpoint."""
    from safetensors.torch import load_file

    checkpoint = checkpoint_folder(folder)
    parts = {stem: load_file(checkpoint / f"{stem}.safetensors") for stem in stems}
    return parts, json.loads((checkpoint / STATE_FILE).read_text(encoding="utf-8"))


def drop_log_after(path: Path, step: int) -> None:
    """Keep only the records of a run's train_log.jsonl up to the checkpoint's step: a resumed run logs
    the later steps again."""
    path = Path(path)
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a last line cut off by a kill
            logger.warning("%s: dropped a line that is not JSON (a write cut off by a stop): %r", path, line[:80])
            continue
        if record.get("step", 0) <= step:
            kept.append(line)
    write_atomically(path, "".join(line + "\n" for line in kept))


def read_saved_config(folder: str | Path, from_dict):
    """The config a run folder was started with (its config.json, read by `from_dict`); a missing or
    broken file is a ValueError naming it."""
    path = Path(folder) / "config.json"
    try:
        return from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, json.JSONDecodeError, TypeError) as error:
        raise ValueError(f"--resume: cannot read the run's config {path} ({error})") from error
