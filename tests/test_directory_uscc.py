"""Unified social credit codes: the GB 32100 check character and normalisation."""
from __future__ import annotations

import random

import pytest

from app.directory.uscc import check_character, is_valid_uscc, make_uscc, normalize_uscc, uscc_error
from app.errors import ValidationFailed

@pytest.fixture
def ctx(app):  # type: ignore[no-untyped-def]
    """A request context in English: messages are checked in their source wording here
    (the Chinese catalogue is checked by tests/test_i18n.py)."""
    from app.extensions import db

    with app.test_request_context("/?lang=en"):
        yield app
        db.session.remove()


# A code published in GB 32100-2015 examples and widely quoted; its check character is 3.
KNOWN_GOOD = "91350100M000100Y43"


def test_known_valid_code() -> None:
    assert uscc_error(KNOWN_GOOD) is None
    assert is_valid_uscc(KNOWN_GOOD)
    assert check_character(KNOWN_GOOD[:17]) == "3"


@pytest.mark.parametrize("seed", range(20))
def test_generated_codes_are_valid(seed: int) -> None:
    code = make_uscc(random.Random(seed), "140502")
    assert len(code) == 18
    assert uscc_error(code) is None


def test_wrong_check_character() -> None:
    wrong = KNOWN_GOOD[:17] + "4"
    error = uscc_error(wrong)
    assert error is not None
    assert "should be 3" in error


@pytest.mark.parametrize("code", [KNOWN_GOOD[:17], KNOWN_GOOD + "0", ""])
def test_wrong_length(code: str) -> None:
    error = uscc_error(code)
    assert error is not None and "18 characters" in error


@pytest.mark.parametrize("bad", ["I", "O", "S", "V", "Z", "-", "中"])
def test_characters_outside_the_alphabet(bad: str) -> None:
    code = KNOWN_GOOD[:8] + bad + KNOWN_GOOD[9:]
    error = uscc_error(code)
    assert error is not None and bad in error


def test_lowercase_is_normalised() -> None:
    assert normalize_uscc("  91350100m000100y43 ") == KNOWN_GOOD
    assert uscc_error(normalize_uscc("91350100m000100y43")) is None
    # Without normalisation the lower-case letters are not in the alphabet.
    assert uscc_error("91350100m000100y43") is not None


def test_service_messages_are_specific(ctx) -> None:  # type: ignore[no-untyped-def]
    from app.directory.service import uscc_message

    assert uscc_message(KNOWN_GOOD) is None
    assert "18" in (uscc_message("123") or "")
    assert "I" in (uscc_message(KNOWN_GOOD[:8] + "I" + KNOWN_GOOD[9:]) or "")
    assert "should be 3, not 4" in (uscc_message(KNOWN_GOOD[:17] + "4") or "")


def test_service_stores_lowercase_input_upper_cased(ctx) -> None:  # type: ignore[no-untyped-def]
    from app.directory.service import create_entity, get_entity_by_uscc
    from app.extensions import db

    entity = create_entity(actor=None, uscc=" 91350100m000100y43 ", name="福州示例有限公司", region_code="350100")
    db.session.commit()
    assert entity.uscc == KNOWN_GOOD
    assert get_entity_by_uscc("91350100m000100y43").id == entity.id


def test_service_refuses_a_wrong_check_character(ctx) -> None:  # type: ignore[no-untyped-def]
    from app.directory.service import create_entity

    with pytest.raises(ValidationFailed) as info:
        create_entity(actor=None, uscc=KNOWN_GOOD[:17] + "4", name="X", region_code="350100")
    assert list(info.value.errors) == ["uscc"]
