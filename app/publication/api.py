"""API of the publication package."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("publication_api", __name__, url_prefix="/publication", description="publication")
