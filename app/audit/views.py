"""The read-only audit log page (administrators and compliance reviewers)."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice

from app.audit import service
from app.auth.decorators import roles_required
from app.auth.roles import Role

bp = Blueprint("audit_admin", __name__, url_prefix="/admin/audit")


class AuditFilterForm(FlaskForm):
    """Filters sent with GET: no CSRF token (reading changes nothing)."""

    class Meta:
        csrf = False

    action = SelectField(_l("Action"), choices=[], default="", validate_choice=False)


@bp.get("")
@roles_required(Role.ADMIN, Role.COMPLIANCE_REVIEWER)
def index():  # type: ignore[no-untyped-def]
    """Entries newest first, filtered by action."""
    form = AuditFilterForm(formdata=request.args)
    form.action.choices = [SelectChoice("", _l("Any action"))] + [SelectChoice(a, a) for a in service.actions()]
    page = service.list_entries(
        page=max(1, request.args.get("page", 1, type=int) or 1),
        per_page=int(current_app.config.get("PAGE_SIZE", service.DEFAULT_PER_PAGE)),
        action=form.action.data or None,
    )
    return render_template("audit/index.html", form=form, page=page)
