"""Smoke test in a real browser: styled pages, logging in, switching language."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.conftest import TEST_PASSWORD

BOOTSTRAP_PRIMARY = "rgb(13, 110, 253)"


def test_login_shows_user_in_navbar(page, make_user, screenshot):
    make_user("browser1", "drafter")
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    # Bootstrap comes from node_modules through /vendor/: the primary button is styled.
    button = page.locator("form button[type=submit]")
    assert button.evaluate("el => getComputedStyle(el).backgroundColor") == BOOTSTRAP_PRIMARY
    screenshot("login")

    page.locator("input[name=username]").fill("browser1")
    page.locator("input[name=password]").fill(TEST_PASSWORD)
    with page.expect_navigation():
        button.click()
    expect(page.get_by_test_id("current-user")).to_have_text("Browser1")


def test_switch_language_to_english(page):
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    with page.expect_navigation():
        page.locator("select[name=locale]").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("select[name=locale]")).to_have_value("en")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
