"""The public site: no login, published records only."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template, request

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
