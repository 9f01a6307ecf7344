"""The user's notifications page."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.extensions import db
from app.notifications import service

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.app_context_processor
def _unread() -> dict:
    if getattr(current_user, "is_authenticated", False):
        return {"unread_notifications": service.unread_count(current_user.id)}
    return {"unread_notifications": 0}


@bp.get("")
@login_required
def index():  # type: ignore[no-untyped-def]
    notes = service.recent(current_user.id)
    return render_template("notifications/index.html", notes=notes, params_of=service.params_of)


@bp.post("/read")
@login_required
def read_all():  # type: ignore[no-untyped-def]
    service.mark_all_read(current_user.id)
    db.session.commit()
    return redirect(url_for("notifications.index"))
