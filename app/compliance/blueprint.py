"""The compliance blueprint: every page under /compliance is for compliance reviewers and admins."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("compliance", __name__, url_prefix="/compliance")
