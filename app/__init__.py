"""Suiji: case management for double-random, one-public supervision.

``create_app`` is the application factory (as in Flask's flaskr tutorial):
each domain package contributes a blueprint for pages and one for the API.
"""
from __future__ import annotations

from typing import Any

from flask import Flask

from app.config import PROJECT_ROOT, Config


def create_app(config: type[Config] | None = None, **overrides: Any) -> Flask:
    """Build the Flask application with every extension and blueprint bound."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "app" / "static"),
        instance_path=str(PROJECT_ROOT / "instance"),
    )
    app.config.from_object(config or Config)
    app.config.update(overrides)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # SQLite has no row locks; a busy timeout makes concurrent writers wait instead of failing.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"timeout": 30}}

    from app import extensions as ext

    ext.db.init_app(app)
    ext.migrate.init_app(app, ext.db, directory=str(PROJECT_ROOT / "migrations"))
    ext.csrf.init_app(app)
    ext.limiter.init_app(app)
    ext.api.init_app(app)

    from app.i18n import init_i18n
    from app.auth.session import init_login

    init_i18n(app)
    init_login(app)

    _import_models()
    _register_blueprints(app)
    _register_cli(app)

    from app import web

    web.init_app(app)

    from workflows import engine

    engine.init_app(app)

    from app.workdays import init_app as init_workdays

    init_workdays(app)

    from app.referrals.process import init_app as init_referral_process  # registers the referral steps

    init_referral_process(app)
    return app


def _import_models() -> None:
    """Import every model module so that metadata (and Alembic) sees all tables."""
    import app.audit.models  # noqa: F401
    import app.auth.models  # noqa: F401
    import app.cases.models  # noqa: F401
    import app.compliance.models  # noqa: F401
    import app.draws.models  # noqa: F401
    import app.files.models  # noqa: F401
    import app.directory.models  # noqa: F401
    import app.notifications.models  # noqa: F401
    import app.plans.models  # noqa: F401
    import app.referrals.models  # noqa: F401
    import app.workdays.models  # noqa: F401
    import workflows.models  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from app import extensions as ext
    from app.assets import bp as assets_bp
    from app.auth.admin_api import blp as users_api
    from app.auth.admin_views import bp as users_admin_bp
    from app.auth.api import blp as auth_api
    from app.auth.views import bp as auth_bp
    from app.directory.api import blp as directory_api
    from app.directory.views import bp as directory_bp
    from app.jobs.views import bp as jobs_bp
    from app.draws.api import blp as draws_api
    from app.draws.views import bp as draws_bp
    from app.plans.api import blp as plans_api
    from app.plans.views import bp as plans_bp
    from app.publication.views import bp as publication_bp
    from app.queue.api import blp as queue_api
    from app.queue.views import bp as queue_bp

    from app.cases.views import bp as cases_bp
    from app.notifications.views import bp as notifications_bp
    from app.audit.views import bp as audit_bp
    from app.workdays.views import bp as calendar_bp
    from app.compliance.views import bp as compliance_bp
    from app.referrals.views import bp as referrals_bp

    for bp in (notifications_bp, assets_bp, auth_bp, directory_bp, plans_bp, queue_bp, publication_bp, draws_bp, cases_bp,
               users_admin_bp, audit_bp, calendar_bp, compliance_bp, referrals_bp):
        app.register_blueprint(bp)
    app.register_blueprint(jobs_bp)  # also points the job queue at this app's storage
    from app.documents.views import bp as documents_bp
    from app.files.views import bp as files_bp

    app.register_blueprint(documents_bp)
    app.register_blueprint(files_bp)
    for blp in (auth_api, directory_api, plans_api, queue_api, draws_api, users_api):
        ext.csrf.exempt(blp)  # bearer tokens only, never cookies: see app.auth.api_auth
        ext.api.register_blueprint(blp, url_prefix=f"/api/v1{blp.url_prefix or ''}")


def _register_cli(app: Flask) -> None:
    from app.auth.cli import users_cli
    from app.demo.cli import demo_cli
    from app.jobs.cli import jobs_cli
    from app.draws.cli import draws_cli
    from app.audit.cli import audit_cli
    from app.workdays.cli import workdays_cli
    from app.compliance.cli import compliance_cli

    app.cli.add_command(users_cli)
    app.cli.add_command(demo_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(draws_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(workdays_cli)
    app.cli.add_command(compliance_cli)
