"""Staff accounts."""
from sqlalchemy import func, select

from ..extensions import db
from ..models import User
from ..models.users import ROLES
from . import ServiceError
from .audit import record_audit

MIN_PASSWORD_LENGTH = 10


def create_user(*, email: str, name: str, role: str, password: str, actor: str) -> User:
    """Create a staff account with a hashed password."""
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
