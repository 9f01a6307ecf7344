"""API of the plans package."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("plans_api", __name__, url_prefix="/plans", description="plans")
