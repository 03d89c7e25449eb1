"""Average the weights of several compose model folders of one architecture (a "model soup").

    python scripts/average_models.py OUT MODEL MODEL [MODEL ...]

Used for issue 12's experiment of averaging two corrections made from one model with different stream and
noise seeds. OUT gets the first model's files (config, tokenizer, scheduler, card) with the text encoder's
and the UNet's weights replaced by the plain mean of every model's. Weights are read from safetensors only.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from safetensors.torch import load_file, save_file

WEIGHTS = ("text_encoder/model.safetensors", "unet/diffusion_pytorch_model.safetensors")


def average(out: Path, models: list[Path]) -> None:
    if len(models) < 2:
        raise SystemExit("give OUT and at least two model folders")
    if out.exists():
        raise SystemExit(f"{out}: already exists; give a new folder (nothing is overwritten)")
    for model in models:
        for part in WEIGHTS:
            if not (model / part).is_file():
                raise SystemExit(f"{model}: no {part} (a compose model folder with a pixel codec is expected)")
    tensors = {part: [load_file(model / part) for model in models] for part in WEIGHTS}
    for part, loaded in tensors.items():
        for model, weights in zip(models[1:], loaded[1:]):
            shapes = {name: tuple(value.shape) for name, value in weights.items()}
            if shapes != {name: tuple(value.shape) for name, value in loaded[0].items()}:
                raise SystemExit(f"{model}/{part}: not the architecture of {models[0]}")
    shutil.copytree(models[0], out)
    for part, loaded in tensors.items():
        mean = {name: (sum(weights[name].float() for weights in loaded) / len(loaded)).to(value.dtype).contiguous()
                for name, value in loaded[0].items()}
        save_file(mean, out / part)
    print(f"averaged {len(models)} models into {out}")


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    average(Path(sys.argv[1]), [Path(path) for path in sys.argv[2:]])
