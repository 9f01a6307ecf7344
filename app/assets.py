"""Front-end libraries served from node_modules (installed by npm from the lockfile).

Only the files listed here are reachable, so node_modules is never exposed whole.
"""
from __future__ import annotations

from flask import Blueprint, abort, send_from_directory

from app.config import PROJECT_ROOT

bp = Blueprint("assets", __name__)

NODE_MODULES = PROJECT_ROOT / "node_modules"
ALLOWED = {
    "bootstrap.min.css": "bootstrap/dist/css/bootstrap.min.css",
    "bootstrap.bundle.min.js": "bootstrap/dist/js/bootstrap.bundle.min.js",
    "bpmn-modeler.js": "bpmn-js/dist/bpmn-modeler.production.min.js",
    "bpmn-navigated-viewer.js": "bpmn-js/dist/bpmn-navigated-viewer.production.min.js",
    "bpmn-js.css": "bpmn-js/dist/assets/bpmn-js.css",
    "diagram-js.css": "bpmn-js/dist/assets/diagram-js.css",
    "bpmn-font.css": "bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css",
    "echarts.min.js": "echarts/dist/echarts.min.js",
}


@bp.get("/vendor/<name>")
def vendor(name: str):  # type: ignore[no-untyped-def]
    relative = ALLOWED.get(name)
    if relative is None:
        abort(404)
    path = NODE_MODULES / relative
    return send_from_directory(path.parent, path.name, max_age=86400)
