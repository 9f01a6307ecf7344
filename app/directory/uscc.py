"""Unified social credit codes (统一社会信用代码), GB 32100-2015.

Eighteen characters from a 31-symbol alphabet (digits and capitals without
I, O, S, V, Z); the last is a check character over the first seventeen with
weights 3^i mod 31. Positions 9-17 are the organisation code of GB 11714,
which carries its own check character (mod 11).
"""
from __future__ import annotations

import random

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))  # 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def check_character(first17: str) -> str:
    """The GB 32100 check character for the first seventeen characters."""
    total = sum(_VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def uscc_error(code: str) -> str | None:
    """Why ``code`` is not a valid USCC, or None when it is."""
    if len(code) != 18:
        return f"must be 18 characters, got {len(code)}"
    bad = sorted({c for c in code if c not in _VALUE})
    if bad:
        return f"characters not allowed: {''.join(bad)}"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"check character should be {expected}, not {code[17]}"
    return None


def normalize_uscc(code: str) -> str:
    """Trimmed and upper-cased, as codes are often typed in lower case."""
    return code.strip().upper()


def is_valid_uscc(code: str) -> bool:
    return uscc_error(code) is None


def _org_check(first8: str) -> str:
    total = sum(_VALUE[c] * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def make_uscc(rng: random.Random, region_code: str, authority: str = "9", category: str = "1") -> str:
    """A well-formed USCC for demo data: both check characters are correct.

    ``authority`` 9 with ``category`` 1 is a company registered by market regulation,
    2 an individual business, 3 a farmers' cooperative.
    """
    org8 = "".join(rng.choice(_ORG_ALPHABET[:10] + "ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    first17 = f"{authority}{category}{region_code}{org8}{_org_check(org8)}"
    return first17 + check_character(first17)
