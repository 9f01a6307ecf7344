"""Trace pages: the marked diagram and timeline of a subject, its JSON twin, and an index.

Compliance reviewers and administrators only. The page draws nothing itself: trace.js
fetches the JSON twin and marks the diagram with bpmn-js, so no user text ever goes into
a script.
"""
from __future__ import annotations

import json
from typing import Any

from flask import current_app, jsonify, render_template, request, url_for
from flask_login import current_user

from app.auth.decorators import roles_required
from app.auth.roles import Role
from app.compliance import trace as traces
from app.compliance.blueprint import bp
from app.compliance.labels import INSTANCE_STATUS_LABELS, SUBJECT_LABELS
from app.compliance.subjects import SUBJECT_TYPES
from app.queue.subjects import subject_kind

REVIEWERS = (Role.COMPLIANCE_REVIEWER, Role.ADMIN)


def trace_url(subject_type: str | None, subject_id: Any) -> str | None:
    """The trace page of a subject for the current user, or None (not a reviewer, not traceable).

    Registered as a Jinja global so that case, plan, draw and audit pages link to traces
    without knowing who may see them. ``subject_id`` may be the audit log's text form.
    """
    if subject_type not in SUBJECT_TYPES or not getattr(current_user, "is_authenticated", False):
        return None
    if not current_user.has_role(*REVIEWERS):
        return None
    try:
        number = int(str(subject_id))
    except ValueError:
        return None
    return url_for("compliance.trace", subject_type=subject_type, subject_id=number)


def trace_value(value: Any) -> str:
    """A changed value as text: strings as they are, anything else as JSON (CJK kept readable)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _register(state: Any) -> None:
    env = state.app.jinja_env
    env.globals.update(trace_url=trace_url, SUBJECT_LABELS=SUBJECT_LABELS,
                       INSTANCE_STATUS_LABELS=INSTANCE_STATUS_LABELS)
    env.filters["trace_value"] = trace_value


bp.record_once(_register)


def subject_url(subject_type: str, subject_id: int) -> str | None:
    """The subject's own page, when its package registered one (see app.queue.subjects)."""
    kind = subject_kind(subject_type)
    if kind is None or kind.endpoint not in current_app.view_functions:
        return None
    return url_for(kind.endpoint, **{kind.url_param: subject_id})


@bp.get("/trace")
@roles_required(*REVIEWERS)
def trace_index():  # type: ignore[no-untyped-def]
    """Process instances, most recently changed first, each linking to its subject's trace."""
    subject_type = request.args.get("subject_type") or None
    if subject_type not in SUBJECT_TYPES:
        subject_type = None
    page = traces.list_instances(subject_type, page=request.args.get("page", 1, type=int) or 1)
    return render_template("compliance/trace_index.html", page=page, subject_type=subject_type,
                           subject_types=SUBJECT_TYPES)


@bp.get("/trace/<subject_type>/<int:subject_id>")
@roles_required(*REVIEWERS)
def trace(subject_type: str, subject_id: int):  # type: ignore[no-untyped-def]
    """The trace page: one marked diagram and one timeline per process instance."""
    found = traces.build_trace(subject_type, subject_id)
    return render_template(
        "compliance/trace.html",
        trace=found,
        json_url=url_for("compliance.trace_json", subject_type=subject_type, subject_id=subject_id),
        subject_page=subject_url(subject_type, subject_id),
    )


@bp.get("/trace/<subject_type>/<int:subject_id>.json")
@roles_required(*REVIEWERS)
def trace_json(subject_type: str, subject_id: int):  # type: ignore[no-untyped-def]
    """The same trace as JSON, diagram XML included (what trace.js draws)."""
    return jsonify(traces.build_trace(subject_type, subject_id).to_json())
