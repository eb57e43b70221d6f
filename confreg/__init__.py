"""confreg: registration for the association's meetings, courses and calls."""
from flask import Flask, render_template
from flask_wtf.csrf import CSRFError

from .database import configure_engine, guard_sqlite_writes
from .extensions import csrf, db, login_manager, mail, migrate


def create_app(config_object: str | object = "config.Config", **overrides) -> Flask:
    """Build the application: extensions, blueprints, CLI and error pages."""
    app = Flask(__name__, template_folder="../templates", instance_relative_config=False)
    app.config.from_object(config_object)
    app.config.update(overrides)
    from .views import RowIdConverter

    app.url_map.converters["int"] = RowIdConverter

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_project_dir() / "migrations"),
                     render_as_batch=True)
    mail.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    guard_sqlite_writes(db.session)
    from .notifications import forget_queued_mail_on_rollback

    forget_queued_mail_on_rollback(db.session)

    from . import models  # noqa: F401  (register the tables with the metadata)
    from .views import manage, outbox, public
    from .views import manage_materials  # noqa: F401  (adds routes to manage.bp: before it registers)

    app.register_blueprint(public.bp)
    app.register_blueprint(manage.bp)
    from .views import recover  # 找回私密链接 (/recover)
    app.register_blueprint(recover.bp)
    from .views.admin import auth as admin_auth, events as admin_events
    from .views.admin import registrations as admin_registrations
    from .views.admin import dashboard as admin_dashboard, reminders as admin_reminders
    from .views import unit_receipts
    from .views.admin import finance as admin_finance
    from .views.admin import printing as admin_print
    from .views.admin import audit as admin_audit, users as admin_users
    from .views.admin import members as admin_members
    from .views import cases, unit_certificates
    from .views.admin import attendance as admin_attendance, booklet as admin_booklet
    from .views.admin import certificates as admin_certificates
    from .views.admin import materials as admin_materials, review as admin_review
    from .views.admin.menu import admin_menu, event_menu

    for module in (admin_auth, admin_events, admin_registrations, admin_dashboard, admin_reminders,
                   admin_members, admin_finance, unit_receipts, admin_print, admin_users, admin_audit,
                   cases, unit_certificates, admin_materials, admin_review, admin_booklet,
                   admin_certificates, admin_attendance):
        app.register_blueprint(module.bp)
    app.add_template_global(admin_menu)
    app.add_template_global(event_menu)
    if app.config.get("MAIL_OUTBOX_DIR"):
        app.register_blueprint(outbox.bp)

    from .cli import register_commands
    from .templating import register_template_helpers

    register_commands(app)
    register_template_helpers(app)
    _register_error_pages(app)
    app.after_request(_security_headers)
    return app


def _security_headers(response):
    # setdefault: the private pages set their own stricter Referrer-Policy.
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def _project_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent


def _register_error_pages(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(error):
        return render_template("errors/404.html"), 404

    @app.errorhandler(403)
    def forbidden(error):
        return render_template("errors/generic.html", title="没有权限",
                               message="您的账号无权打开此页面。"), 403

    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        return render_template("errors/csrf.html"), 400

    @app.errorhandler(413)
    def too_large(error):
        return render_template("errors/generic.html", title="提交的内容过大",
                               message="请减小文件或内容后重试。"), 413

    @app.errorhandler(500)
    def server_error(error):
        return render_template("errors/generic.html", title="服务器出错了",
                               message="很抱歉，请稍后重试；如仍有问题请联系会务组。"), 500
