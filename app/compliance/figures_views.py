"""/compliance/figures: the year's figures as charts and tables, their JSON, and the XLSX export."""
from __future__ import annotations

from flask import Response, jsonify, render_template, request
from flask_login import current_user

from app.audit.service import record
from app.auth.decorators import roles_required
from app.auth.roles import Role
from app.compliance import figures
from app.compliance.blueprint import bp
from app.compliance.figures_export import dimension_titles, to_json, to_xlsx
from app.extensions import db

REVIEWERS = (Role.ADMIN, Role.COMPLIANCE_REVIEWER)
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _year() -> tuple[int, list[int]]:
    """The year asked for (default: the newest with figures) and the years to choose from."""
    years = figures.available_years()
    year = request.args.get("year", type=int)
    if year is None or not 2000 <= year <= 2100:
        year = years[0]
    return year, sorted(set(years) | {year}, reverse=True)


@bp.get("/figures")
@roles_required(*REVIEWERS)
def figures_page():  # type: ignore[no-untyped-def]
    """Charts (drawn by static/compliance-figures.js from the JSON endpoint) and the tables."""
    year, years = _year()
    report = figures.compute(year)
    return render_template("compliance/figures.html", report=report, year=year, years=years,
                           dimensions=dimension_titles())


@bp.get("/figures.json")
@roles_required(*REVIEWERS)
def figures_data():  # type: ignore[no-untyped-def]
    """The year's figures, breakdowns and the trend over the years, for the charts."""
    year, years = _year()
    return jsonify(to_json(figures.compute(year), figures.trend(years)))


@bp.get("/figures.xlsx")
@roles_required(*REVIEWERS)
def figures_xlsx():  # type: ignore[no-untyped-def]
    """The year's figures as a workbook; every export is recorded in the audit log."""
    year, years = _year()
    report = figures.compute(year)
    body = to_xlsx(report, figures.trend(years))
    record("compliance.figures_exported", actor=current_user, subject_type="figures", subject_id=year,
           details={"year": year, "figures": [f.code for f in report.figures], "bytes": len(body)})
    db.session.commit()
    return Response(body, mimetype=XLSX_MIMETYPE, headers={
        "Content-Disposition": f'attachment; filename="suiji-figures-{year}.xlsx"'})
