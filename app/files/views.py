"""The generic download route for stored files, and the answer to oversized request bodies."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

from app.files import service
from app.i18n import lazy_text as _l

bp = Blueprint("files", __name__, url_prefix="/files")


@bp.get("/<int:file_id>")
@login_required
def download(file_id: int) -> Response:
    """A stored file, if its owner package lets the current user see it."""
    stored = service.get_file(file_id)
    if stored is None:
        abort(404)
    if not service.can_view(stored, current_user):
        abort(403)
    try:
        return service.send_stored(stored)
    except FileNotFoundError:
        # The row outlived its bytes (a restore without the storage directory, a bad sweep):
        # say so in the log, and to the user that there is nothing to get.
        current_app.logger.error("stored_file %s: %s is missing", stored.id, stored.storage_key)
        abort(404)


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(err: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
    """Werkzeug cuts a body over MAX_CONTENT_LENGTH off; say so plainly instead of its stock text."""
    limit = request.max_content_length or current_app.config.get("MAX_CONTENT_LENGTH") or 0
    message = _l("The upload is too large: a request may carry at most %(size)s.", size=service.size_text(limit))
    if request.path.startswith("/api/"):
        return jsonify(error="413", message=str(message)), 413
    return render_template("error.html", code=413, message=message), 413
