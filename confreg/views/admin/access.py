"""Who may open a staff page: signed in, and of one of the page's roles (admin: all)."""
from functools import wraps

from flask import abort
from flask_login import current_user, login_required

STAFF_ROLES = ("admin", "finance", "staff", "reviewer")


def roles_required(*roles: str):
    """Let in signed-in users whose role is one of `roles`; admins always; others get 403."""
    allowed = frozenset(roles) | {"admin"}

    def decorate(view):
        @wraps(view)
        @login_required
        def guarded(*args, **kwargs):
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        guarded.allowed_roles = allowed
        return guarded

    return decorate


def actor_name(user=None) -> str:
    """How the audit log names a member of staff."""
    user = user or current_user
    return f"{user.role_label} {user.name}（{user.email}）"
