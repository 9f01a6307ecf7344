"""Cross-cutting web wiring: error pages, template helpers, security headers."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, jsonify, render_template, request
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from app.errors import DomainError

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC instant shown in Asia/Shanghai."""
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime(fmt)


def local_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date()
    return value.isoformat()


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path.endswith(".json")


def init_app(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.filters["localdate"] = local_date

    @app.context_processor
    def inject_globals() -> dict:
        from app.auth.roles import ROLE_LABELS, Role

        from app.db import utcnow

        return {
            "Role": Role,
            "ROLE_LABELS": ROLE_LABELS,
            "current_locale": "zh_CN" if get_locale().language == "zh" else "en",
            "now_utc": utcnow(),
        }

    @app.after_request
    def security_headers(response):  # type: ignore[no-untyped-def]
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.errorhandler(DomainError)
    def domain_error(err: DomainError):  # type: ignore[no-untyped-def]
        from app.errors import ValidationFailed
        from app.extensions import db

        db.session.rollback()
        if _wants_json():
            # Machine clients get English, whatever the user's language: messages are lazy
            # translations until here, so they can still be rendered in English.
            with force_locale("en"):
                body: dict = {"error": type(err).__name__, "message": err.message}
                if isinstance(err, ValidationFailed):
                    body["errors"] = err.messages()
            return jsonify(body), err.status_code
        return render_template("error.html", code=err.status_code, message=err.message), err.status_code

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError):  # type: ignore[no-untyped-def]
        if _wants_json():
            return jsonify(error="400", message=err.description), 400
        message = _("The form has expired or did not come from this site. Go back, reload the page and try again.")
        return render_template("error.html", code=400, message=message), 400

    for code in (403, 404, 429):

        def handler(err, code=code):  # type: ignore[no-untyped-def]
            description = getattr(err, "description", "")
            if _wants_json():
                return jsonify(error=str(code), message=description), code
            # Werkzeug's stock descriptions are English prose; the page's own heading says it
            # in the user's language, so only a description a view chose itself is shown.
            if description == getattr(type(err), "description", None) or code == 429:
                description = ""
            return render_template("error.html", code=code, message=description), code

        app.register_error_handler(code, handler)
