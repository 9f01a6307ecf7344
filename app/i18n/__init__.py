"""Flask-Babel set-up: Chinese by default, English on request, chosen per user."""
from __future__ import annotations

from flask import Flask, request, session
from flask_login import current_user

from app.extensions import babel


def select_locale() -> str:
    """The user's saved choice, else the session's, else Chinese."""
    supported = ("zh_CN", "en")
    if getattr(current_user, "is_authenticated", False) and current_user.locale in supported:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in supported:
        return chosen
    if request and request.args.get("lang") in supported:
        return request.args["lang"]
    return "zh_CN"


def init_i18n(app: Flask) -> None:
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Asia/Shanghai")
