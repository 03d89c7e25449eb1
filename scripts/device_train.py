"""Train the bundled model on a lent GPU for a fixed wall-time budget, measure it, pack the results.

Run by scripts/device_train.sh on the device machine (see the model card of models/shapes-v2). Trains with
`compose.training.train` for BUDGET minutes with the recipe of the CPU-trained model (the same
learning rate, warm-up and region share; only the batch is larger). Every checkpoint the run writes
is copied aside as it appears, so after training each one (and the last) is exported and draws
benchmarks/single_object.py's bar set on the GPU: the pictures come back as .npz, to be scored on the
development machine with `python benchmarks/single_object.py --pictures FILE` (the device machine has
no spaCy, which the prompt parser behind scoring needs). That gives the single-object accuracy against
training seconds, i.e. the GPU time to issue 4's bar.

OUT receives gpu_run.tar (the last model, the log, plot, config and tokenizer; the shell script splits it
into parts under 16 MB) and single-step-N.npz for the last checkpoint and up to 5 earlier ones.
"""

import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

from compose.training import TrainConfig, export_model, train

budget, out = float(sys.argv[1]), Path(sys.argv[2])
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 128
seeds = os.environ.get("SEEDS", "4")
MAX_PICTURE_FILES = 6  # the device tool brings back 8 files: these, and the tar in up to 2 parts
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
run, snapshots, models = Path("/tmp/compose-run"), Path("/tmp/compose-snapshots"), Path("/tmp/compose-models")
config = TrainConfig(output=str(run), steps=100_000, batch_size=batch,
                     learning_rate=float(os.environ.get("LR", "5e-4")), warmup_steps=200, region_fraction=0.35,
                     workers=int(os.environ.get("WORKERS", "14")), mixed_precision=os.environ.get("PRECISION", "bf16"),
                     budget_minutes=budget, time_limit_minutes=budget + 0.5, validate_every=1000,
                     checkpoint_minutes=float(os.environ.get("SNAPSHOT_MINUTES", "1.0")))
finished = threading.Event()


def checkpoint_step() -> int:
    return json.loads((run / "checkpoint" / "trainer_state.json").read_text())["step"]


def copy_checkpoint(step: int) -> None:
    """Copy run/checkpoint (without the optimizer state) to snapshots/step-N."""
    shutil.copytree(run / "checkpoint", snapshots / f"step-{step:06d}" / "checkpoint",
                    ignore=shutil.ignore_patterns("optimizer.safetensors"), dirs_exist_ok=True)


def copy_checkpoints() -> None:
    """Copy each new checkpoint aside as it appears (one is replaced by a rename, so a copy can race it)."""
    copied = None
    while not finished.wait(1.0):
        try:
            step = checkpoint_step()
            if step != copied:
                copy_checkpoint(step)
                copied = step
        except (OSError, ValueError, KeyError):
            continue  # not written yet, or renamed under us: the next poll tries again


started = time.time()
watcher = threading.Thread(target=copy_checkpoints, daemon=True)
watcher.start()
try:
    train(config)
finally:
    finished.set()
    watcher.join()
    print(json.dumps({"training_wall_seconds": round(time.time() - started, 1)}), flush=True)
    if (run / "checkpoint").exists():
        # Each file lands in OUT as soon as it is written, so a run stopped at its time limit still brings
        # back what it finished: the last model and the logs first, then pictures, last checkpoint first.
        final = checkpoint_step()
        copy_checkpoint(final)
        steps = sorted(int(folder.name.split("-")[1]) for folder in snapshots.iterdir())
        chosen = [final] + steps[:-1][-(MAX_PICTURE_FILES - 1):][::-1]
        for step in chosen:
            snapshot = snapshots / f"step-{step:06d}"
            for name in ("config.json", "tokenizer"):
                os.symlink(run / name, snapshot / name)
            model = export_model(snapshot, models / snapshot.name)
            if step == final:
                with tarfile.open(out / "gpu_run.tar", "w") as tar:
                    for name in ("config.json", "train_log.jsonl", "training.png", "tokenizer"):
                        if (run / name).exists():
                            tar.add(run / name, arcname=f"run/{name}")
                    tar.add(model, arcname="model")
            subprocess.run([sys.executable, "benchmarks/single_object.py", "--model", str(model), "--seeds", seeds,
                            "--batch", "360", "--device", os.environ.get("DEVICE", "cuda"), "--draw-only",
                            "--save-pictures", str(out / f"single-{snapshot.name}.npz")], check=True)
    print(json.dumps({"wall_seconds": round(time.time() - started, 1)}))
