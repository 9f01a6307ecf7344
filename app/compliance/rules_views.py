"""/compliance/checks: the rule checks' findings, grouped by rule, each linking to its trace."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.audit.service import record
from app.auth.decorators import roles_required
from app.auth.roles import Role
from app.compliance import draw_verification, figures, rules
from app.compliance.blueprint import bp
from app.extensions import db
from app.jobs import enqueue_after_commit

REVIEWERS = (Role.ADMIN, Role.COMPLIANCE_REVIEWER)
# How long a page may spend running the draw verifier on rounds it has no verdict for.
DEFAULT_VERIFY_BUDGET_SECONDS = 10.0


def _year_arg() -> int | None:
    """The year asked for: absent means the current year, an empty value means every year."""
    raw = request.values.get("year")
    if raw is None:
        return figures.available_years()[0]
    return int(raw) if raw.isdigit() else None


@bp.get("/checks")
@roles_required(*REVIEWERS)
def checks():  # type: ignore[no-untyped-def]
    """Findings of every rule (or one) for a year (or all years)."""
    year = _year_arg()
    rule = request.args.get("rule") or None
    if rule is not None and rule not in rules.RULES:
        rule = None
    report = rules.run_checks(year, [rule] if rule else None, verify_budget_seconds=float(
        current_app.config.get("COMPLIANCE_VERIFY_BUDGET_SECONDS", DEFAULT_VERIFY_BUDGET_SECONDS)))
    db.session.commit()  # keeps the verifier's new verdicts for the next run
    return render_template("compliance/checks.html", report=report, grouped=report.by_rule(), rules=rules.RULES,
                           year=year, rule=rule, years=figures.available_years(),
                           severity_labels=rules.SEVERITY_LABELS)


@bp.post("/checks/verify-draws")
@roles_required(*REVIEWERS)
def verify_draws():  # type: ignore[no-untyped-def]
    """Verify, in a background worker, the rounds a page had no time for."""
    year = _year_arg()
    ctx = rules.CheckContext(today=rules.today(), verify_budget_seconds=0.0)
    rules.check_draw_verification(year, ctx)
    if ctx.pending_draws:
        record("compliance.draw_verification_requested", actor=current_user, subject_type="task_draw",
               details={"year": year, "draw_ids": ctx.pending_draws})
        enqueue_after_commit(draw_verification.verify_rounds_job, list(ctx.pending_draws))
        flash(_("%(count)s draws are being verified in the background; reload this page later.",
                count=len(ctx.pending_draws)), "info")
    else:
        flash(_("Every draw has a current verdict."), "info")
    db.session.commit()
    return redirect(url_for("compliance.checks", year="" if year is None else year))
