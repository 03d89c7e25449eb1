"""How the parser's error messages quote a prompt, and what counts as a count."""

from __future__ import annotations


def is_count(value) -> bool:
    """Whether a number said in a prompt is a count: a whole number of at least 1 (not "2.5", "-3", "0")."""
    return isinstance(value, int) and value >= 1


def quote(prompt: str, limit: int = 60) -> str:
    """A prompt as it appears in an error message: quoted, cut to `limit` characters."""
    text = " ".join(prompt.split())
    if len(text) > limit:
        text = text[:limit - 3] + "..."
    return f'"{text}"'
