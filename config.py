"""Configuration read from the environment; SQLite by default."""
import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


def _secret_key() -> str:
    """SECRET_KEY from the environment, else one made once per installation and kept."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(exist_ok=True)
        draft = INSTANCE_DIR / f"secret_key.{os.getpid()}"
        draft.write_text(secrets.token_urlsafe(48))
        draft.chmod(0o600)
        try:  # link() is atomic: workers starting at once all read the one complete key
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


class Config:
    SECRET_KEY = _secret_key()
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'confreg.db'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # WTForms' own Chinese messages (its zh catalogue) instead of Flask-Babel's lookup.
    WTF_I18N_ENABLED = False
    WTF_CSRF_TIME_LIMIT = None  # a phone user may take an hour over the form
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # A case submission carries its text, 3-5 photos and a stamped form in one request.
    MAX_CONTENT_LENGTH = 64 * 1024 * 1024
    # Uploaded materials, photos and forms, stored by their SHA-256.
    UPLOAD_DIR = os.environ.get("UPLOAD_DIR", str(INSTANCE_DIR / "uploads"))
    MAX_DOCUMENT_BYTES = 20 * 1024 * 1024   # a Word or PDF text, an application form
    MAX_IMAGE_BYTES = 10 * 1024 * 1024      # one photo

    # Public address used in e-mailed links (no request context when mail is retried).
    BASE_URL = os.environ.get("BASE_URL", "http://127.0.0.1:5000")

    MAIL_SERVER = os.environ.get("MAIL_SERVER", "localhost")
    MAIL_PORT = int(os.environ.get("MAIL_PORT", "25"))
    MAIL_USE_TLS = os.environ.get("MAIL_USE_TLS", "") == "1"
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME")
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD")
    MAIL_DEFAULT_SENDER = os.environ.get(
        "MAIL_DEFAULT_SENDER", "城乡社区工作委员会会务组 <noreply@confreg.local>"
    )
    MAIL_TIMEOUT = float(os.environ.get("MAIL_TIMEOUT", "10"))
    # When set, mail is written as .eml files into this folder instead of SMTP
    # (the `make run` outbox a person can open).
    MAIL_OUTBOX_DIR = os.environ.get("MAIL_OUTBOX_DIR") or None
    MAIL_MAX_ATTEMPTS = 8
    # A mail being sent is claimed for this long: a worker killed mid-send leaves it to the
    # sweep after the lease (longer than a send can take: MAIL_TIMEOUT per SMTP step).
    MAIL_SENDING_LEASE_SECONDS = int(os.environ.get("MAIL_SENDING_LEASE_SECONDS", "600"))

    # Behind a reverse proxy: how many proxies to trust for X-Forwarded-For / -Proto / -Host
    # (werkzeug's ProxyFix; 1 behind one nginx). 0, the default, applies no ProxyFix at all,
    # so a client reaching the app directly cannot forge its address or https.
    PROXY_FIX_X_FOR = int(os.environ.get("PROXY_FIX_X_FOR", "0"))
    PROXY_FIX_X_PROTO = int(os.environ.get("PROXY_FIX_X_PROTO", "0"))
    PROXY_FIX_X_HOST = int(os.environ.get("PROXY_FIX_X_HOST", "0"))

    TIMEZONE = "Asia/Shanghai"

    # The background worker's queue (huey): an SQLite file by default (nothing to install),
    # Redis in the scale-out set-up (redis://127.0.0.1:6379/0). `flask worker` consumes it.
    WORKER_BROKER_URL = os.environ.get(
        "WORKER_BROKER_URL", f"sqlite:///{INSTANCE_DIR / 'worker.db'}")
    # Several installations may share one Redis: each its own queue name.
    WORKER_QUEUE_NAME = os.environ.get("WORKER_QUEUE_NAME", "confreg")
    # China times ("HH:MM") of the worker's daily jobs.
    REMINDERS_AT = os.environ.get("REMINDERS_AT", "09:00")
    UPLOADS_PRUNE_AT = os.environ.get("UPLOADS_PRUNE_AT", "03:30")
    # How long the result of a long job (a booklet, bulk certificates) is kept to download.
    JOB_RESULT_DAYS = int(os.environ.get("JOB_RESULT_DAYS", "7"))


class TestConfig(Config):
    TESTING = True
    SECRET_KEY = "test"
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    SERVER_NAME = None
    BASE_URL = "http://confreg.test"
    MAIL_SERVER = "127.0.0.1"
    MAIL_PORT = 1  # each test that reads mail points this at its own SMTP server
    MAIL_TIMEOUT = 5
    MAIL_OUTBOX_DIR = None
    # conftest gives each test session its own queue (an SQLite file, or Redis if set here).
    WORKER_BROKER_URL = os.environ.get("TEST_WORKER_BROKER_URL") or None
    # Flask-Mail would silently drop mail under TESTING; the tests use a real SMTP server.
    MAIL_SUPPRESS_SEND = False


class ProductionConfig(Config):
    """A real installation (CONFREG_CONFIG=production); create_app refuses it if unsafe."""
    PRODUCTION = True
    # From the environment only: not the key Config keeps in instance/, not SQLite by default.
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"


CONFIGS = {"development": Config, "production": ProductionConfig}


def selected_config() -> type[Config]:
    """The configuration CONFREG_CONFIG names: development (the default) or production."""
    name = os.environ.get("CONFREG_CONFIG") or "development"
    if name not in CONFIGS:
        raise RuntimeError(f"CONFREG_CONFIG={name!r} is not one of: {', '.join(CONFIGS)}")
    return CONFIGS[name]
