"""Translations: a complete Chinese catalogue, Chinese pages by default, English API messages."""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po
from flask import Flask

from app.config import PROJECT_ROOT

PO_FILE = PROJECT_ROOT / "app" / "translations" / "zh_CN" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[#0 +-]?\d*(?:\.\d+)?[diouxXeEfFgGcrs]")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A template freshly extracted from the sources, as ``make i18n-extract`` does."""
    out = tmp_path_factory.mktemp("i18n") / "messages.pot"
    cwd = Path.cwd()
    try:
        os.chdir(PROJECT_ROOT)  # babel.cfg's patterns are relative to the project
        CommandLineInterface().run(["pybabel", "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-o", str(out), "."])
    finally:
        os.chdir(cwd)
    with out.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    with PO_FILE.open("rb") as f:
        return read_po(f, locale="zh_CN")


def _ids(message) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    return tuple(message.id) if isinstance(message.id, (list, tuple)) else (message.id,)


def _strings(message) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    return tuple(message.string) if isinstance(message.string, (list, tuple)) else (message.string,)


def test_every_extracted_message_has_a_chinese_translation(extracted, catalog) -> None:  # type: ignore[no-untyped-def]
    missing = []
    for message in extracted:
        if not message.id:
            continue
        translated = catalog.get(message.id)
        if translated is None or not all(s.strip() for s in _strings(translated)):
            missing.append(_ids(message)[0])
    assert not missing, f"untranslated (run `make i18n-update`, then translate): {missing}"


def test_catalogue_has_no_fuzzy_entries(catalog) -> None:  # type: ignore[no-untyped-def]
    """``pybabel update`` guesses translations of changed messages and marks them fuzzy;
    a person must check each one and remove the mark."""
    assert not catalog.fuzzy, "the catalogue header is marked fuzzy"
    fuzzy = [_ids(m)[0] for m in catalog if m.id and m.fuzzy]
    assert not fuzzy, f"fuzzy translations to check: {fuzzy}"


def test_placeholders_are_kept(catalog) -> None:  # type: ignore[no-untyped-def]
    wrong = []
    for message in catalog:
        if not message.id:
            continue
        wanted = set(PLACEHOLDER.findall(" ".join(_ids(message))))
        for string in _strings(message):
            if set(PLACEHOLDER.findall(string)) != wanted:
                wrong.append((_ids(message)[0], string))
    assert not wrong, wrong


def test_the_compiled_catalogue_is_current(catalog) -> None:  # type: ignore[no-untyped-def]
    """The .mo (built by ``make i18n-compile``) must not lag behind the .po it comes from."""
    mo = PO_FILE.with_suffix(".mo")
    assert mo.exists(), "run `make i18n-compile`"
    assert mo.stat().st_mtime >= PO_FILE.stat().st_mtime, "run `make i18n-compile`"


# --------------------------------------------------------------------------- pages


def test_pages_are_chinese_by_default_and_english_on_request(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page and 'lang="zh-CN"' in page and "Log in" not in page
    english = client.get("/login?lang=en").get_data(as_text=True)
    assert "Log in" in english and 'lang="en"' in english and "登录" not in english


def test_chosen_language_stays_for_the_session(client) -> None:  # type: ignore[no-untyped-def]
    client.post("/language", data={"locale": "en"})
    assert "Public plans" in client.get("/").get_data(as_text=True)
    client.post("/language", data={"locale": "zh_CN"})
    assert "计划公示" in client.get("/").get_data(as_text=True)


def test_error_pages_are_chinese_without_werkzeug_prose(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/public/plans/999999").get_data(as_text=True)
    assert "页面或记录不存在" in page and "该计划不存在或尚未公示" in page
    assert "The requested URL" not in page
    missing = client.get("/no/such/page").get_data(as_text=True)
    assert "页面或记录不存在" in missing and "The requested URL" not in missing


def test_service_messages_follow_the_page_language(app: Flask) -> None:
    from app.directory import service
    from app.errors import ValidationFailed

    with app.test_request_context("/"):
        with pytest.raises(ValidationFailed) as info:
            service.create_entity(actor=None, uscc="123", name="", region_code="1405")
        # Lazy until shown: the same error reads in either language.
        assert info.value.messages()["uscc"] == ["应为18位，实际为3位"]
        assert "必填" in info.value.message
    with app.test_request_context("/?lang=en"):
        assert info.value.messages()["uscc"] == ["must be 18 characters, got 3"]
    with app.app_context():  # the CLI: no request, Chinese
        assert str(info.value.errors["name"][0]) == "必填"


def test_api_errors_are_english_whatever_the_users_language(app: Flask, client, make_user, api_token) -> None:  # type: ignore[no-untyped-def]
    make_user("coord", "coordinator", locale="zh_CN")
    headers = api_token("coord")
    response = client.post("/api/v1/directory/entities", json={"uscc": "123", "name": "某公司", "region_code": "140502"},
                           headers=headers)
    assert response.status_code == 422
    assert response.json["errors"]["uscc"] == ["must be 18 characters, got 3"]
    assert "must be 18 characters" in response.json["message"]
    missing = client.get("/api/v1/directory/entities/999999", headers=headers)
    assert missing.status_code == 404 and missing.json["message"] == "Entity 999999 not found"


def test_api_import_reasons_are_english(app: Flask, client, make_user, api_token) -> None:  # type: ignore[no-untyped-def]
    make_user("coord", "coordinator", locale="zh_CN")
    data = "uscc,name,region_code\n123,某公司,140502\n".encode()
    response = client.post(
        "/api/v1/directory/entities/import",
        data={"file": (io.BytesIO(data), "entities.csv")},
        content_type="multipart/form-data",
        headers=api_token("coord"),
    )
    assert response.status_code == 422
    assert response.json["errors"][0]["reasons"] == ["uscc: must be 18 characters, got 3"]


def test_messages_with_user_input_are_escaped_on_pages(app: Flask, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    make_user("coord", "coordinator")
    client = login_as("coord")
    data = "uscc,<b>bold</b>\n".encode()
    response = client.post(
        "/directory/entities/import",
        data={"file": (io.BytesIO(data), "entities.csv")},
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "无法识别的列" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page


def test_plan_status_filter_shows_labels(app: Flask, make_user, login_as) -> None:  # type: ignore[no-untyped-def]
    make_user("drafter1", "drafter")
    page = login_as("drafter1").get("/plans").get_data(as_text=True)
    assert '<option value="legal_review" >合法性审查</option>' in page
    assert ">legal_review</option>" not in page
