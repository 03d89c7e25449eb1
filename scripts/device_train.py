"""Train the bundled model on a lent GPU for a fixed wall-time budget, then pack the results.

Run by scripts/device_train.sh on the device machine (see README "Training"): trains with
`compose.training.train` for BUDGET minutes, exports the EMA weights as a bundled-format model and
writes the exported model with the run's log, plot, config and tokenizer to OUT/gpu_run.tar (the
shell script then splits it into parts under 16 MB that the device tool can bring back).
"""

import json
import logging
import os
import sys
import tarfile
import time
from pathlib import Path

from compose.training import TrainConfig, export_model, train

budget, out = float(sys.argv[1]), Path(sys.argv[2])
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 256
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
run, model = Path("/tmp/compose-run"), Path("/tmp/compose-model")
config = TrainConfig(output=str(run), steps=100_000, batch_size=batch, learning_rate=6e-4, warmup_steps=400,
                     workers=int(os.environ.get("WORKERS", "14")), mixed_precision=os.environ.get("PRECISION", "bf16"), budget_minutes=budget, time_limit_minutes=budget + 0.5,
                     validate_every=1000, checkpoint_minutes=2.0)
started = time.time()
try:
    train(config)
finally:
    if (run / "checkpoint").exists():
        export_model(run, model)
        with tarfile.open(out / "gpu_run.tar", "w") as tar:
            for name in ("config.json", "train_log.jsonl", "training.png", "tokenizer",
                         "checkpoint/trainer_state.json"):
                if (run / name).exists():
                    tar.add(run / name, arcname=f"run/{name}")
            tar.add(model, arcname="model")
    print(json.dumps({"wall_seconds": round(time.time() - started, 1)}))
