"""Staff accounts."""
from sqlalchemy import func, select

from ..database import begin_write
from ..extensions import db
from ..models import User
from ..models.users import ROLES
from . import ServiceError
from .audit import diff, record_audit

MIN_PASSWORD_LENGTH = 10


def create_user(*, email: str, name: str, role: str, password: str, actor: str) -> User:
    """Create a staff account with a hashed password."""
    begin_write(db.session)  # the e-mail address is checked and taken in one transaction
    email = email.strip().lower()
    if role not in ROLES:
        raise ServiceError("未知的角色。", field="role")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(f"密码至少 {MIN_PASSWORD_LENGTH} 位。", field="password")
    if db.session.scalar(select(func.count()).where(func.lower(User.email) == email)):
        raise ServiceError("该邮箱已有账号。", field="email")
    user = User(email=email, name=name.strip(), role=role)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record_audit(actor=actor, action="user.created", object_type="user", object_id=user.id,
                 summary=f"创建{user.role_label}账号 {user.email}",
                 changes={"email": [None, user.email], "role": [None, role]})
    return user


def _lock_active_admins() -> list[User]:
    """Hold every active admin's row, so two demotions cannot both leave 'another admin'."""
    begin_write(db.session)
    return list(db.session.scalars(
        select(User).where(User.role == "admin", User.active.is_(True)).order_by(User.id)
        .with_for_update(key_share=True).execution_options(populate_existing=True)))


def update_user(user: User, *, name: str, role: str, active: bool,
                new_password: str | None = None, actor: str) -> User:
    """Change a staff account; never demote or disable the last active admin."""
    admins = _lock_active_admins()
    user = db.session.execute(
        select(User).where(User.id == user.id).with_for_update(key_share=True)
        .execution_options(populate_existing=True)).scalar_one()
    if role not in ROLES:
        raise ServiceError("未知的角色。", field="role")
    if not name.strip():
        raise ServiceError("请填写姓名。", field="name")
    if new_password and len(new_password) < MIN_PASSWORD_LENGTH:
        raise ServiceError(f"密码至少 {MIN_PASSWORD_LENGTH} 位。", field="new_password")
    stays_admin = role == "admin" and active
    if user in admins and not stays_admin and len(admins) == 1:
        raise ServiceError("这是唯一一个启用中的管理员账号，不能改为其他角色或停用。"
                           "请先把另一个账号设为管理员。",
                           field="role" if role != "admin" else "active")
    before = {"name": user.name, "role": user.role, "active": user.active}
    user.name, user.role, user.active = name.strip(), role, active
    changes = diff(before, {"name": user.name, "role": user.role, "active": user.active})
    notes = [_CHANGE_NOTES[key](user) for key in changes]
    if new_password:
        user.set_password(new_password)
        # A reset also lifts a lock-out; the password itself is never logged.
        user.failed_logins, user.locked_until = 0, None
        changes["password"] = ["", "已重置"]
        notes.append("重置密码")
    if not changes:
        return user
    db.session.flush()
    record_audit(actor=actor, action="user.updated", object_type="user", object_id=user.id,
                 summary=f"修改账号 {user.email}：" + "；".join(notes), changes=changes)
    return user


def disable_user(user: User, *, actor: str) -> User:
    """Disable a staff account (it can no longer sign in); the last admin stays."""
    return update_user(user, name=user.name, role=user.role, active=False, actor=actor)


_CHANGE_NOTES = {
    "name": lambda user: f"姓名改为 {user.name}",
    "role": lambda user: f"角色改为{user.role_label}",
    "active": lambda user: "启用" if user.active else "停用",
}
