"""The public site: no login, published records only."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

from app.cases import documents as case_documents, publication as results
from app.directory.service import search_check_items
from app.files.service import send_stored

from app.plans.forms import MODE_LABELS
from app.plans.rules import ratio_percent
from app.publication import service

bp = Blueprint("publication", __name__)


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    return render_template("publication/home.html", plans=service.published_plans()[:10])


@bp.get("/public/plans")
def plans():  # type: ignore[no-untyped-def]
    year = request.args.get("year", type=int)
    return render_template("publication/plans.html", plans=service.published_plans(year), year=year)


@bp.get("/public/plans.json")
def plans_json():  # type: ignore[no-untyped-def]
    year = request.args.get("year", type=int)
    return jsonify(plans=[service.public_plan(p, with_tasks=False) for p in service.published_plans(year)])


@bp.get("/public/plans/<int:plan_id>")
def plan(plan_id: int):  # type: ignore[no-untyped-def]
    return render_template(
        "publication/plan.html",
        plan=service.published_plan(plan_id),
        ratio_percent=ratio_percent,
        mode_labels=MODE_LABELS,
    )


@bp.get("/public/plans/<int:plan_id>.json")
def plan_json(plan_id: int):  # type: ignore[no-untyped-def]
    return jsonify(service.public_plan(service.published_plan(plan_id)))


def _page_args() -> tuple[str, int]:
    return (request.args.get("q") or "").strip()[:100], max(request.args.get("page", 1, type=int), 1)


@bp.get("/public/results")
def results_index():  # type: ignore[no-untyped-def]
    q, page = _page_args()
    return render_template("publication/results.html", page=results.public_results(q, page), q=q)


@bp.get("/public/results.json")
def results_json():  # type: ignore[no-untyped-def]
    q, page = _page_args()
    found = results.public_results(q, page)
    return jsonify(results=[results.public_json(v) for v in found.items], total=found.total, page=found.page,
                   per_page=found.per_page)


@bp.get("/public/results/<int:version_id>")
def result(version_id: int):  # type: ignore[no-untyped-def]
    return render_template("publication/result.html", version=results.public_result(version_id))


@bp.get("/public/results/<int:version_id>.json")
def result_json(version_id: int):  # type: ignore[no-untyped-def]
    return jsonify(results.public_json(results.public_result(version_id)))


@bp.get("/public/results/<int:version_id>.pdf")
def result_pdf(version_id: int):  # type: ignore[no-untyped-def]
    from app.extensions import db

    stored = case_documents.public_notice(results.public_result(version_id))
    db.session.commit()
    return send_stored(stored)


@bp.get("/public/check-items")
def check_items():  # type: ignore[no-untyped-def]
    q, page = _page_args()
    return render_template("publication/check_items.html", page=search_check_items(q, active=True, page=page), q=q)


@bp.get("/public/check-items.json")
def check_items_json():  # type: ignore[no-untyped-def]
    q, page = _page_args()
    found = search_check_items(q, active=True, page=page)
    return jsonify(check_items=[service.public_check_item(i) for i in found.items], total=found.total,
                   page=found.page, per_page=found.per_page)
