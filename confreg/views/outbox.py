"""The local outbox of `make run`: mail written to files, readable in the browser."""
from email import policy
from email.parser import BytesParser
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, request

bp = Blueprint("outbox", __name__, url_prefix="/outbox")


@bp.before_request
def loopback_only():
    # The outbox shows every private link: only the machine running `make run` may read it.
    if request.remote_addr not in ("127.0.0.1", "::1"):
        abort(404)


def _folder() -> Path:
    return Path(current_app.config["MAIL_OUTBOX_DIR"])


def _read(path: Path) -> dict:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    body = message.get_body(preferencelist=("plain",))
    return {"name": path.name, "to": message["To"], "subject": message["Subject"],
            "date": message["Date"], "body": body.get_content() if body else ""}


@bp.route("/")
def index():
    folder = _folder()
    files = sorted(folder.glob("*.eml"), reverse=True) if folder.exists() else []
    return render_template("outbox/index.html", messages=[_read(p) for p in files[:200]],
                           folder=folder)


@bp.route("/<name>")
def show(name):
    path = _folder() / name
    if "/" in name or not name.endswith(".eml") or not path.is_file():
        abort(404)
    return render_template("outbox/show.html", message=_read(path))
