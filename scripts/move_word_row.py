"""Move one word's row of the token embedding table part of the way toward another word's: a diagnosis.

    python scripts/move_word_row.py BASE OUT --word small --toward big --share 0.3

OUT is a copy of BASE in which the row of `--word` becomes row + share x (row of `--toward` - row); every
other weight is BASE's. Share 0 leaves the model as it was, 1 makes the word read as the other one. Used for
issue 12 (README, "Untraining") to ask whether the small objects a fine-tune loses are objects drawn too
small; not a correction (the audit reads shapes and colours, not sizes, so a bigger "small" would buy read-back
by drawing what was not asked). Weights are read from safetensors only.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

TEXT_WEIGHTS = "text_encoder/model.safetensors"
TABLE = "embeddings.token_embedding.weight"


def main() -> None:
    from safetensors.torch import load_file, save_file
    from transformers import CLIPTokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="a compose model folder")
    parser.add_argument("out", type=Path, help="a new folder")
    parser.add_argument("--word", required=True, help="the word whose row moves")
    parser.add_argument("--toward", required=True, help="the word it moves toward")
    parser.add_argument("--share", type=float, required=True, help="how far, 0 (not at all) to 1 (all the way)")
    args = parser.parse_args()
    if not (args.base / TEXT_WEIGHTS).is_file():
        parser.error(f"{args.base}: no {TEXT_WEIGHTS} (give a compose model folder)")
    if args.out.exists():
        parser.error(f"{args.out}: already exists; give a new folder (nothing is overwritten)")
    if not 0 <= args.share <= 1:
        parser.error(f"--share {args.share}: give a share from 0 to 1")
    tokenizer = CLIPTokenizer.from_pretrained(args.base / "tokenizer")
    rows = {}
    for word in (args.word, args.toward):
        pieces = tokenizer(word, add_special_tokens=False).input_ids
        if len(pieces) != 1:
            parser.error(f"{word!r}: the tokenizer reads it as {len(pieces)} pieces; give a word with one row")
        rows[word] = pieces[0]
    tensors = load_file(args.base / TEXT_WEIGHTS)
    table = tensors[TABLE]
    table[rows[args.word]] += args.share * (table[rows[args.toward]] - table[rows[args.word]])
    shutil.copytree(args.base, args.out)
    save_file(tensors, args.out / TEXT_WEIGHTS)
    print(f"{args.out}: {args.word!r} moved {args.share} of the way toward {args.toward!r}")


if __name__ == "__main__":
    main()
