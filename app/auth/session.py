"""Flask-Login wiring: session users for pages, bearer tokens (only) for the API."""
from __future__ import annotations

from flask import Flask, g, jsonify, request
from flask_babel import lazy_gettext as _l

from app.auth.models import User
from app.extensions import db, login_manager

API_PREFIX = "/api/v1"
PUBLIC_API_PATHS = {f"{API_PREFIX}/openapi.json"}


def init_login(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        user = db.session.get(User, int(user_id))
        # A deactivated account loses its open sessions too, not only the right to log in.
        return user if user is not None and user.is_active_account else None

    @app.before_request
    def authenticate_api_request():  # type: ignore[no-untyped-def]
        # The API ignores session cookies: a browser's cookie can never drive it, so it needs
        # no CSRF token, and a token-less call is refused even if a session exists.
        if not request.path.startswith(API_PREFIX) or request.path in PUBLIC_API_PATHS:
            return None
        from app.auth.service import user_for_token

        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        user = user_for_token(token.strip()) if scheme.lower() == "bearer" and token else None
        if user is None:
            # The API speaks English to its clients (see app.i18n), so this needs no translation.
            response = jsonify(error="unauthorized", message="a valid bearer token is required")
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="suiji"'
            return response
        g._login_user = user  # Flask-Login reads the current user from here
        db.session.commit()  # records last_used_at
        return None
