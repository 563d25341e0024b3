"""Character error rate, as the benchmarks and tests measure it (spaces removed)."""

from __future__ import annotations


def cer(reference: str, hypothesis: str) -> float:
    """Levenshtein distance over characters ÷ reference length, ignoring spaces and the
    sentence punctuation that the recogniser never outputs."""
    ref = [c for c in reference if not c.isspace() and c not in ".,?!"]
    hyp = [c for c in hypothesis if not c.isspace() and c not in ".,?!"]
    if not ref:
        return float(bool(hyp))
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / len(ref)
