"""Staff accounts: the list, creating one, changing its name, role, status or password."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from ...extensions import db
from ...forms.users import UserCreateForm, UserEditForm
from ...models import User
from ...services import ServiceError
from ...services.users import create_user, update_user
from ...forms.errors import show_beside_field
from .access import actor_name, roles_required

bp = Blueprint("admin_users", __name__, url_prefix="/admin/users")


def user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.route("/")
@roles_required("admin")
def index():
    users = db.session.scalars(
        select(User).order_by(User.active.desc(), User.role, User.email)).all()
    return render_template("admin/users/index.html", users=users)


@bp.route("/new", methods=["GET", "POST"])
@roles_required("admin")
def new():
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user = create_user(email=form.email.data, name=form.name.data, role=form.role.data,
                               password=form.password.data, actor=actor_name())
        except ServiceError as error:
            db.session.rollback()
            _field_error(form, error)
            return render_template("admin/users/form.html", form=form, user=None), 422
        email = user.email
        db.session.commit()
        flash(f"已创建账号 {email}，请把初始密码当面或电话告知本人。", "success")
        return redirect(url_for(".index"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/users/form.html", form=form, user=None), status


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@roles_required("admin")
def edit(user_id):
    user = user_or_404(user_id)
    form = UserEditForm(obj=user if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            update_user(user, name=form.name.data, role=form.role.data,
                        active=bool(form.active.data), new_password=form.new_password.data or None,
                        actor=actor_name())
        except ServiceError as error:
            db.session.rollback()
            _field_error(form, error)
            return render_template("admin/users/form.html", form=form, user=user), 422
        email = user.email
        db.session.commit()
        flash(f"已保存账号 {email}。", "success")
        return redirect(url_for(".index"))
    status = 422 if request.method == "POST" else 200
    return render_template("admin/users/form.html", form=form, user=user), status


def _field_error(form, error: ServiceError) -> None:
    if not show_beside_field(form, error):
        flash(error.message, "error")
