"""API of the queue package."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("queue_api", __name__, url_prefix="/queue", description="queue")
