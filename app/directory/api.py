"""API of the directory package."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("directory_api", __name__, url_prefix="/directory", description="directory")
