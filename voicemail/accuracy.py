"""Character error rate, as the benchmarks and tests measure it (spaces removed)."""

from __future__ import annotations

import unicodedata


def _chars(text: str) -> list[str]:
    return [
        c
        for c in unicodedata.normalize("NFC", text.casefold())
        if not c.isspace() and not unicodedata.category(c).startswith("P")
    ]


def cer(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over characters ÷ reference length, ignoring spaces, case and
    the punctuation that the recogniser never outputs."""
    ref, hyp = _chars(reference), _chars(hypothesis)
    if not ref:
        return float(bool(hyp))
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)
