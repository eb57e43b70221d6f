"""An event's dashboard: seats, money, member claims, deadlines and two charts."""
from flask import Blueprint, render_template

from ...charts import column_bars, horizontal_bars
from ...services.dashboard import event_dashboard
from ...timeutil import china_today
from .access import roles_required
from .events import event_or_404

bp = Blueprint("admin_dashboard", __name__, url_prefix="/admin/events")


@bp.route("/<int:event_id>")
@roles_required("staff", "finance")
def show(event_id: int):
    event = event_or_404(event_id)
    today = china_today()
    figures = event_dashboard(event, today=today)
    charts = {
        "per_day": column_bars(figures.per_day, title="每日报名人数（按报名日期，北京时间）")
        if figures.per_day else None,
        "by_province": horizontal_bars(figures.by_province, title="参会人数（按省份）",
                                       unit="人") if figures.by_province else None,
    }
    return render_template("admin/dashboard/show.html", event=event, figures=figures,
                           charts=charts, today=today)
