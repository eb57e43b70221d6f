"""China time: deadlines are whole days in Asia/Shanghai."""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


def china_today(now: datetime | None = None) -> date:
    """Return today's date in China for the given instant (default: now)."""
    now = now or datetime.now(timezone.utc)
    return now.astimezone(CHINA).date()


def is_on_or_before(deadline: date | None, today: date) -> bool:
    """True while a deadline date has not passed: the whole deadline day counts."""
    return deadline is None or today <= deadline


def format_date_cn(day: date | None) -> str:
    if day is None:
        return ""
    return f"{day.year}年{day.month}月{day.day}日"


def format_month_day_cn(day: date) -> str:
    return f"{day.month}月{day.day}日"


WEEKDAYS_CN = "一二三四五六日"


def format_weekday_cn(day: date) -> str:
    return "星期" + WEEKDAYS_CN[day.weekday()]
