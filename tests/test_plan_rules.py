from datetime import date
from decimal import Decimal

import pytest

from app.plans import rules


@pytest.mark.parametrize(
    "text, expected",
    [("3%", "0.03"), ("3", "0.03"), ("0.03", "0.03"), ("20%", "0.2"), ("100%", "1.0"), ("2.5%", "0.025"),
     ("1", "0.01"), ("１", "0.01"), ("３％", "0.03"), ("0.5", "0.5"), ("NaN%", None)],
)
def test_parse_ratio_is_exact(text, expected):
    if expected is None:
        with pytest.raises(ValueError):
            rules.parse_ratio(text)
        return
    value = rules.parse_ratio(text)
    assert isinstance(value, Decimal)
    assert rules.ratio_str(value) == expected


@pytest.mark.parametrize("text", ["", "0", "0%", "-3%", "101%", "abc", "NaN", "Infinity"])
def test_parse_ratio_refuses(text):
    with pytest.raises(ValueError):
        rules.parse_ratio(text)


def test_ratio_percent_round_trip():
    assert rules.ratio_percent("0.03") == "3%"
    assert rules.ratio_percent("0.025") == "2.5%"
    assert rules.ratio_percent(None) == ""


def test_ratio_notices_follow_local_bands():
    assert rules.ratio_notices("0.03", {"general"})[0].field == "ratio"
    assert rules.ratio_notices("0.05", {"general"}) == []
    assert rules.ratio_notices("0.10", {"key"})  # key items at least 20%
    assert rules.ratio_notices("0.30", {"key", "general"}) == []


def test_window_rules():
    assert rules.window_error(date(2023, 6, 1), date(2023, 11, 30), 2023) is None
    assert "before" in rules.window_error(date(2023, 6, 1), date(2023, 5, 1), 2023)
    assert "2023" in rules.window_error(date(2023, 6, 1), date(2024, 1, 31), 2023)
