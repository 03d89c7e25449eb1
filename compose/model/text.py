"""Text side of the bundled model: a tokenizer built locally from caption text, and text encoding.

The tokenizer is a CLIP-style byte-pair encoder learned from the words of shapes-world captions (one
token per known word); its alphabet holds every lowercase letter, digit and common
punctuation mark, so any word, even one no caption used ("astronaut"), still encodes (as pieces).
Nothing is downloaded.
"""

from __future__ import annotations

import string

import torch

ALPHABET = tuple(string.ascii_lowercase + string.digits + ".,;:!?'\"-()")
START, END, PAD = "<|startoftext|>", "<|endoftext|>", "<|pad|>"


def train_tokenizer(texts, max_merges: int | None = None, reserve_id_zero: bool = False):
    """A CLIPTokenizer whose byte-pair merges are learned from the words of `texts`.

    Classic byte-pair encoding (Sennrich et al. 2016): start from letters (a word's last letter marked
    "</w>"), repeatedly merge the most frequent adjacent pair, until every word is one token or
    `max_merges` is reached. Ties go to the lexicographically smallest pair, so the same texts always
    give the same tokenizer (the `tokenizers` trainer breaks ties differently from run to run). Every
    single character is in the vocabulary, so an unknown word still encodes, as pieces.
    `reserve_id_zero` gives id 0 to a padding token, never the start token: OWL-ViT treats a text query
    whose first id is 0 as padding (CLIP's own start token is 49406), so its tokenizers need this."""
    import re
    from collections import Counter

    from transformers import CLIPTokenizer

    counts = Counter(word for text in texts for word in re.findall(r"[a-z]+", text.lower()))
    segments = {word: list(word[:-1]) + [word[-1] + "</w>"] for word in counts}
    vocab: dict[str, int] = {PAD: 0} if reserve_id_zero else {}
    vocab.update({START: len(vocab), END: len(vocab) + 1})
    for character in ALPHABET:  # every character encodes, inside a word and at its end
        for form in (character, character + "</w>"):
            vocab.setdefault(form, len(vocab))
    merges: list[tuple[str, str]] = []
    while max_merges is None or len(merges) < max_merges:
        pairs: Counter = Counter()
        for word, pieces in segments.items():
            for pair in zip(pieces, pieces[1:]):
                pairs[pair] += counts[word]
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        merged = best[0] + best[1]
        merges.append(best)
        vocab.setdefault(merged, len(vocab))
        for word, pieces in segments.items():
            index, joined = 0, []
            while index < len(pieces):
                if index + 1 < len(pieces) and (pieces[index], pieces[index + 1]) == best:
                    joined.append(merged)
                    index += 2
                else:
                    joined.append(pieces[index])
                    index += 1
            segments[word] = joined
    if reserve_id_zero:
        return CLIPTokenizer(vocab=vocab, merges=merges, pad_token=PAD)
    return CLIPTokenizer(vocab=vocab, merges=merges)


def encode_texts(text_encoder, tokenizer, texts: list[str], length: int) -> torch.Tensor:
    """Token embeddings (len(texts), length, hidden) of each text, padded or cut to `length` tokens."""
    tokens = tokenizer(texts, padding="max_length", max_length=length, truncation=True, return_tensors="pt")
    device = next(text_encoder.parameters()).device
    return text_encoder(tokens.input_ids.to(device))[0]
