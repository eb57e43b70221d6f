"""Staff sign-in and sign-out."""
from functools import cache
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import EmailField, PasswordField
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms.validators import InputRequired

from ...database import begin_write, utcnow
from ...extensions import db, login_manager
from ...models import User

bp = Blueprint("admin_auth", __name__, url_prefix="/admin")

SIGN_IN_FAILED = "邮箱或密码不正确。连续输错 5 次，账号将暂停登录 15 分钟。"


@cache
def _no_account_hash() -> str:
    # Made at the first sign-in with an unknown address, not at start-up (a hash takes ~70 ms).
    return generate_password_hash("no account has this password")


@login_manager.user_loader
def load_user(user_id: str):
    return db.session.get(User, int(user_id)) if user_id.isdigit() else None


class LoginForm(FlaskForm):
    email = EmailField("邮箱", [InputRequired("请填写邮箱。")])
    password = PasswordField("密码", [InputRequired("请填写密码。")])


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never an open redirect.
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc:
        return target
    if current_user.is_authenticated and current_user.role == "reviewer":
        return url_for("admin_review.mine")  # a reviewer's work is their assignments
    return url_for("admin_events.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        now = utcnow()
        begin_write(db.session)
        user = db.session.scalar(
            select(User).where(func.lower(User.email) == form.email.data.strip().lower()))
        # One answer for an unknown address, a wrong password, a disabled or a locked account
        # (and a password hash checked in every case), so the page tells no one which
        # addresses have accounts.
        if user is None:
            check_password_hash(_no_account_hash(), form.password.data)
        password_ok = user is not None and user.check_password(form.password.data)
        if user is None or not user.active or user.is_locked(now) or not password_ok:
            if user is not None and not password_ok:
                user.record_failed_login(now)
                db.session.commit()
            flash(SIGN_IN_FAILED, "error")
            return render_template("admin/login.html", form=form), 401
        user.record_login(now)
        db.session.commit()
        login_user(user)
        return redirect(_safe_next(request.args.get("next")))
    return render_template("admin/login.html", form=form)


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash("已退出登录。", "info")
    return redirect(url_for(".login"))
