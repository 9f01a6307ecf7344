"""Rules on plan tasks: exact ratios, windows, and the bureau's ratio bands.

Ratios are exact decimals (a plan's "3%" is Decimal("0.03")), never floats, because
the draw computes quotas as ceil(n × ratio) and must be re-computable by anyone.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from app.directory.models import CREDIT_CLASSES
from app.i18n import lazy_text as _l

CREDIT_STRATA = (*CREDIT_CLASSES, "U")  # U: unclassified

# Local rules (Changchun §5(一)): general items 5%–20%, key items at least 20%.
GENERAL_RATIO_BAND = (Decimal("0.05"), Decimal("0.20"))
KEY_RATIO_MIN = Decimal("0.20")


def parse_ratio(text: str | Decimal | None) -> Decimal:
    """An exact ratio from "3%", "3", "0.03" style input.

    A value with "%" is a percentage; so is a bare number, unless it is written as a
    fraction "0.xx". So "1" means 1%, never 100%: the plans state ratios in percent.
    Full-width digits, as typed with a Chinese input method, are accepted.

    Raises ValueError whose first argument is a message for the user (a lazy translation).
    """
    if isinstance(text, Decimal):
        value = text
    else:
        raw = unicodedata.normalize("NFKC", text or "").strip()
        if not raw:
            raise ValueError(_l("a ratio is required"))
        percent = raw.endswith("%") or not raw.startswith(("0.", "."))
        try:
            value = Decimal(raw.rstrip("%").strip())
        except InvalidOperation:
            raise ValueError(_l("not a number: %(value)s", value=raw)) from None
        if not value.is_finite():
            raise ValueError(_l("not a number: %(value)s", value=raw))
        if percent:
            value = value / 100
    if not value.is_finite() or value <= 0 or value > 1:
        raise ValueError(_l("a ratio must be above %(low)s and at most %(high)s", low="0%", high="100%"))
    return value


def ratio_str(value: Decimal) -> str:
    """The canonical decimal string stored and published, e.g. "0.03"."""
    text = format(value.normalize(), "f")
    return text if "." in text else f"{text}.0"


def ratio_percent(value: str | None) -> str:
    """ "0.03" shown as "3%"."""
    if not value:
        return ""
    return format((Decimal(value) * 100).normalize(), "f") + "%"


@dataclass(frozen=True)
class RuleNotice:
    """A deviation from a local rule: shown to reviewers, not a hard error."""

    field: str
    message: str  # a lazy translation: str() it where it is shown


def ratio_notices(ratio: str | None, item_kinds: set[str]) -> list[RuleNotice]:
    """Where a task's ratio leaves the bureau's band for its items' kind."""
    if not ratio:
        return []
    value = Decimal(ratio)
    notices = []
    if "key" in item_kinds and value < KEY_RATIO_MIN:
        notices.append(RuleNotice("ratio", _l("key items are checked at a ratio of at least %(min)s", min="20%")))
    elif item_kinds == {"general"} and not GENERAL_RATIO_BAND[0] <= value <= GENERAL_RATIO_BAND[1]:
        notices.append(RuleNotice("ratio", _l("general items are checked at a ratio of %(low)s to %(high)s", low="5%", high="20%")))
    return notices


def window_error(start: date, end: date, year: int) -> str | None:
    """Why a task's window is not acceptable for a plan of ``year`` (a lazy translation), or None."""
    if end < start:
        return _l("the window ends before it starts")
    if start.year != year or end.year != year:
        return _l("the window must lie within %(year)s", year=year)
    return None
