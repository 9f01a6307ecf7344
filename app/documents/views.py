"""A development preview of the case documents, rendered from the example contexts."""
from __future__ import annotations

from flask import Blueprint, Response, abort

from app.auth.decorators import roles_required
from app.auth.roles import Role
from app.documents.service import KINDS, example_context, render_pdf

bp = Blueprint("documents", __name__, url_prefix="/documents")


@bp.get("/preview/<kind>.pdf")
@roles_required(Role.ADMIN)
def preview(kind: str) -> Response:
    """Document ``kind`` filled with its example context (administrators only)."""
    if kind not in KINDS:
        abort(404)
    response = Response(render_pdf(kind, example_context(kind)), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{kind}-preview.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response
