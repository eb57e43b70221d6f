"""confreg: registration for the association's meetings, courses and calls."""
from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix

from .database import configure_engine, guard_sqlite_writes
from .extensions import csrf, db, login_manager, mail, migrate


def create_app(config_object: str | object = "config.Config", **overrides) -> Flask:
    """Build the application: extensions, blueprints, CLI and error pages."""
    app = Flask(__name__, template_folder="../templates", instance_relative_config=False)
    app.config.from_object(config_object)
    app.config.update(overrides)
    if app.config.get("PRODUCTION"):
        _refuse_unsafe_production(app.config)
    _trust_configured_proxies(app)
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
    from .worker import dispatch_on_commit, init_worker

    dispatch_on_commit(db.session)
    init_worker(app)
    from .ops import init_ops
    init_ops(app)  # /healthz, request ids and the access log, the 503 page

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
    from .views.admin import bank as admin_bank, jobs as admin_jobs, system as admin_system
    from .views.admin import invoices as admin_invoices
    from .views.admin.menu import admin_menu, event_menu

    for module in (admin_auth, admin_events, admin_registrations, admin_dashboard, admin_reminders,
                   admin_members, admin_finance, unit_receipts, admin_print, admin_users, admin_audit,
                   cases, unit_certificates, admin_materials, admin_review, admin_booklet,
                   admin_certificates, admin_attendance, admin_jobs, admin_system, admin_bank,
                   admin_invoices):
        app.register_blueprint(module.bp)
    app.add_template_global(admin_menu)
    app.add_template_global(event_menu)
    if app.config.get("MAIL_OUTBOX_DIR") and not app.config.get("PRODUCTION"):
        app.register_blueprint(outbox.bp)

    from .cli import register_commands
    from .templating import register_template_helpers

    register_commands(app)
    register_template_helpers(app)
    _register_error_pages(app)
    app.after_request(_security_headers)
    return app


# Only the app's own files: no inline script, style="…" or on…= handler runs (templates/
# keep none, tests/test_proxy_security.py checks), so injected markup cannot run either.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


def _security_headers(response):
    # setdefault: the private pages set their own stricter Referrer-Policy.
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    # Pages only: Chrome shows a PDF through an <embed> that object-src 'none' would block
    # (crbug.com/271452), and images and downloads run nothing.
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if request.is_secure:  # https as the client sees it: behind a proxy, only via ProxyFix
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response


def _refuse_unsafe_production(config) -> None:
    """Refuse to start production without its secrets, or with the dev outbox switched on."""
    missing = [name for name, key in (("SECRET_KEY", "SECRET_KEY"),
                                      ("DATABASE_URL", "SQLALCHEMY_DATABASE_URI"))
               if not config.get(key)]
    if missing:
        raise RuntimeError(f"production configuration: set {' and '.join(missing)} "
                           "in the environment")
    if config.get("MAIL_OUTBOX_DIR"):
        # The outbox shows every private link; in production mail goes by SMTP only.
        raise RuntimeError("production configuration: MAIL_OUTBOX_DIR must not be set "
                           "(the dev outbox is for `make run` only)")


def _trust_configured_proxies(app: Flask) -> None:
    """Believe X-Forwarded-* from as many proxies as configured; by default from none."""
    hops = {name: int(app.config.get(f"PROXY_FIX_X_{name.upper()}") or 0)
            for name in ("for", "proto", "host")}
    if any(hops.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops["for"], x_proto=hops["proto"],
                                x_host=hops["host"], x_port=0, x_prefix=0)


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
