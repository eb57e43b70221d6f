"""The staff menus: only pages that exist and that the signed-in role may open."""
from flask import current_app
from flask_login import current_user

# (endpoint, label): top-level pages, then the pages of one event (they take event_id).
ADMIN_PAGES = [
    ("admin_review.mine", "我的评审"),
    ("admin_bank.index", "银行流水"),
    ("admin_members.index", "会员名录"),
    ("admin_members.claims", "会员价审核"),
    ("admin_users.index", "用户"),
    ("admin_audit.index", "审计日志"),
    ("admin_system.index", "系统状态"),
]
# A call for cases takes submissions, not registrations: no money, lists, check-in or
# reminders there. (endpoint, label, the kinds of event it serves; None: every kind)
ATTENDED = frozenset({"meeting", "training"})
EVENT_PAGES = [
    ("admin_dashboard.show", "概览", ATTENDED),
    ("admin_registrations.index", "报名", ATTENDED),
    ("admin_finance.index", "付款与收据", ATTENDED),
    ("admin_bank.reconciliation", "对账", ATTENDED),
    ("admin_invoices.queue", "电子发票", ATTENDED),
    ("admin_materials.index", "材料", None),
    ("admin_review.board", "评审", None),
    ("admin_booklet.show", "材料汇编", None),
    ("admin_attendance.index", "签到与结业", ATTENDED),
    ("admin_certificates.index", "证书", None),
    ("admin_print.index", "打印与导出", ATTENDED),
    ("admin_reminders.index", "提醒", ATTENDED),
    ("admin_events.edit", "编辑活动", None),
]


def _allowed(endpoint: str) -> bool:
    view = current_app.view_functions.get(endpoint)
    roles = getattr(view, "allowed_roles", None)
    return view is not None and roles is not None and current_user.role in roles


def admin_menu() -> list[tuple[str, str, frozenset]]:
    return [(endpoint, label, current_app.view_functions[endpoint].allowed_roles)
            for endpoint, label in ADMIN_PAGES if _allowed(endpoint)]


def event_menu(event=None) -> list[tuple[str, str]]:
    """The desk pages of an event that the signed-in role may open and that fit its kind."""
    return [(endpoint, label) for endpoint, label, kinds in EVENT_PAGES
            if (kinds is None or event is None or event.kind in kinds) and _allowed(endpoint)]
