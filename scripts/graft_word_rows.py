"""Graft rows of the token embedding table, or a whole part, from one model onto another: where does a
correction's fix (or a fine-tune's damage) live?

    python scripts/graft_word_rows.py BASE DONOR OUT --only diamond,diamonds,star,stars
    python scripts/graft_word_rows.py BASE DONOR OUT --all-but diamond,diamonds,star,stars
    python scripts/graft_word_rows.py BASE DONOR OUT --part text-layers

OUT is a copy of BASE whose text encoder's token embedding table takes DONOR's rows for the words given
(`--only`) or for every word but them (`--all-but`), or that takes one part of DONOR whole (`--part`: the text
encoder's `text-layers` (its transformer layers and final norm), `positions` (its position table),
`token-table`, the whole `text-encoder`, or the `unet`); every other weight is BASE's. The two models must share
a tokenizer and architecture (a correction and the model it started from). A word the tokenizer splits counts
as each of its pieces. Weights are read from safetensors only. Used for issue 12 (README, "Untraining").
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

TEXT_WEIGHTS = "text_encoder/model.safetensors"
TABLE = "embeddings.token_embedding.weight"
# --part: which of the text encoder's tensors each part names ("unet" is the unet folder, whole).
TEXT_PARTS = {
    "text-layers": lambda name: name.startswith(("encoder.layers.", "final_layer_norm.")),
    "positions": lambda name: name == "embeddings.position_embedding.weight",
    "token-table": lambda name: name == TABLE,
    "text-encoder": lambda name: True,
}


def main() -> None:
    from safetensors.torch import load_file, save_file
    from transformers import CLIPTokenizer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path, help="the model folder every other weight comes from")
    parser.add_argument("donor", type=Path, help="the model folder the grafted rows come from")
    parser.add_argument("out", type=Path, help="a new folder")
    words = parser.add_mutually_exclusive_group(required=True)
    words.add_argument("--only", metavar="WORDS", help="comma-separated: graft these words' rows")
    words.add_argument("--all-but", metavar="WORDS", help="comma-separated: graft every row but these words'")
    words.add_argument("--part", choices=[*TEXT_PARTS, "unet"], help="graft this part of DONOR whole")
    args = parser.parse_args()
    for folder in (args.base, args.donor):
        if not (folder / TEXT_WEIGHTS).is_file():
            parser.error(f"{folder}: no {TEXT_WEIGHTS} (give a compose model folder)")
    if args.out.exists():
        parser.error(f"{args.out}: already exists; give a new folder (nothing is overwritten)")
    if args.part:
        graft_part(args.base, args.donor, args.out, args.part)
        return
    tokenizer = CLIPTokenizer.from_pretrained(args.base / "tokenizer")
    named = sorted({token for word in (args.only or args.all_but).split(",")
                    for token in tokenizer(word, add_special_tokens=False).input_ids})
    base, donor = load_file(args.base / TEXT_WEIGHTS), load_file(args.donor / TEXT_WEIGHTS)
    if base[TABLE].shape != donor[TABLE].shape:
        parser.error(f"the two tables differ in shape ({tuple(base[TABLE].shape)}, {tuple(donor[TABLE].shape)})")
    rows = named if args.only else sorted(set(range(base[TABLE].shape[0])) - set(named))
    base[TABLE][rows] = donor[TABLE][rows]
    shutil.copytree(args.base, args.out)
    save_file(base, args.out / TEXT_WEIGHTS)
    print(f"{args.out}: {len(rows)} of {base[TABLE].shape[0]} rows from {args.donor} "
          f"({'only' if args.only else 'all but'} {', '.join(tokenizer.convert_ids_to_tokens(named))})")


def graft_part(base: Path, donor: Path, out: Path, part: str) -> None:
    from safetensors.torch import load_file, save_file

    if part == "unet":
        shutil.copytree(base, out, ignore=lambda folder, names: ["unet"] if Path(folder) == base else [])
        shutil.copytree(donor / "unet", out / "unet")
        print(f"{out}: {base}'s text encoder, {donor}'s unet")
        return
    tensors, given = load_file(base / TEXT_WEIGHTS), load_file(donor / TEXT_WEIGHTS)
    taken = [name for name in tensors if TEXT_PARTS[part](name)]
    for name in taken:
        if tensors[name].shape != given[name].shape:
            raise SystemExit(f"{name}: shapes differ ({tuple(tensors[name].shape)}, {tuple(given[name].shape)})")
        tensors[name] = given[name]
    shutil.copytree(base, out)
    save_file(tensors, out / TEXT_WEIGHTS)
    print(f"{out}: {len(taken)} of {len(tensors)} text-encoder tensors ({part}) from {donor}")


if __name__ == "__main__":
    main()
