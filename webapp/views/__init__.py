"""Blueprints. Views stay thin (parse, call the engine, render); sign-in wraps
them all from outside (``webapp.auth``: every endpoint not on its public list
needs a session), so a new view is protected without remembering to be."""

from flask import Flask


def init_app(app: Flask) -> None:
    from .. import admin
    from .converters import DatabaseIdConverter

    # Before any route is added: every <int:...> is a 32-bit database id.
    app.url_map.converters["int"] = DatabaseIdConverter
    from .console import bp as console_bp
    from .dashboard import bp as dashboard_bp
    from .open311 import bp as open311_bp
    from .webhooks import bp as webhooks_bp

    app.register_blueprint(dashboard_bp)
    app.register_blueprint(console_bp)
    app.register_blueprint(open311_bp)
    app.register_blueprint(webhooks_bp)
    admin.init_app(app)  # the console at /admin (webapp.admin)
    from . import errors, template_filters

    errors.init_app(app)
    template_filters.init_app(app)

    @app.context_processor
    def queue_banner() -> dict:
        return {"in_process_queue": app.task_queue.in_process}
