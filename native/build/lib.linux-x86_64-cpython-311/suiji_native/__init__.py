"""HMAC-SHA256 scores of the draw algorithm suiji-draw-v1, in C (see _scores.c).

Optional speed-up for ``app/draws/algorithm.py``, which falls back to pure Python
without it. SHA-256 is implemented in the extension (portable C, and the x86 SHA
extensions when the CPU has them); every function releases the GIL while hashing.

* ``hmac_scores(key, prefix, messages) -> bytes``: the 32-byte digests of
  HMAC-SHA256(key, prefix + m) for each m, concatenated.
* ``scores_below(key, prefix, messages, limits) -> [(i, digest), ...]``: those below
  their own limit (None: skipped, not hashed).
* ``rank_inspectors(key, prefixes, certs, limit=None, masks=None) -> [[i, ...], ...]``:
  per prefix, the certificates scoring below ``limit``, sorted by (score, index).
* ``sha256(data)``, ``backend()``, ``set_backend("portable" | "sha-ni" | "auto")``,
  ``sha_ni_supported()``: for tests and benchmarks.

Messages and prefixes are bytes or str (hashed as UTF-8).
"""
from ._scores import (
    API_VERSION,
    backend,
    hmac_scores,
    rank_inspectors,
    scores_below,
    set_backend,
    sha256,
    sha_ni_supported,
)

__all__ = [
    "API_VERSION",
    "backend",
    "hmac_scores",
    "rank_inspectors",
    "scores_below",
    "set_backend",
    "sha256",
    "sha_ni_supported",
]
