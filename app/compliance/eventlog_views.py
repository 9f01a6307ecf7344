"""/compliance/eventlog: the event log page and its XES and CSV downloads (streamed, audited)."""
from __future__ import annotations

from flask import Response, abort, render_template, request, stream_with_context
from flask_login import current_user

from app.auth.decorators import roles_required
from app.auth.roles import Role
from app.compliance import eventlog
from app.compliance.blueprint import bp
from app.errors import ValidationFailed
from app.extensions import db

REVIEWERS = (Role.ADMIN, Role.COMPLIANCE_REVIEWER)
MIMETYPES = {"xes": "application/xml", "csv": "text/csv"}


@bp.get("/eventlog")
@roles_required(*REVIEWERS)
def eventlog_page():  # type: ignore[no-untyped-def]
    """The options (process, year) and the two download links."""
    try:
        chosen = eventlog.parse_request(request.args.get("process"), request.args.get("year"))
    except ValidationFailed:
        chosen = eventlog.EventLogRequest()
    return render_template("compliance/eventlog.html", chosen=chosen, processes=eventlog.PROCESSES,
                           years=eventlog.available_years(), traces=eventlog.count_traces(chosen),
                           columns=eventlog.CSV_COLUMNS)


def _download(fmt: str) -> Response:
    try:
        chosen = eventlog.parse_request(request.args.get("process"), request.args.get("year"))
    except ValidationFailed as err:
        abort(400, description=err.message)
    # Audited before the first byte goes out: a download cut short was still handed out.
    eventlog.audit_export(chosen, fmt, current_user, traces_count=eventlog.count_traces(chosen), via="web")
    db.session.commit()
    # stream_with_context: the generator reads the database after the view has returned.
    body = stream_with_context(eventlog.chunks(chosen, fmt))
    return Response(body, mimetype=MIMETYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="{chosen.filename_stem}.{fmt}"',
        "X-Content-Type-Options": "nosniff"})


@bp.get("/eventlog.xes")
@roles_required(*REVIEWERS)
def eventlog_xes():  # type: ignore[no-untyped-def]
    """The event log as XES (IEEE 1849-2016)."""
    return _download("xes")


@bp.get("/eventlog.csv")
@roles_required(*REVIEWERS)
def eventlog_csv():  # type: ignore[no-untyped-def]
    """The event log as CSV, one row per completed step."""
    return _download("csv")
