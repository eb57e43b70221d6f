"""Jinja filters and globals for Chinese dates, money and notice text."""
from decimal import Decimal

from flask import Flask
from markupsafe import Markup, escape

from .checks import mask_mobile
from .timeutil import CHINA, format_date_cn, format_month_day_cn, format_weekday_cn


def money(value) -> str:
    return f"{Decimal(value or 0):,.2f}"


def thousands(value) -> str:
    """A count with the thousands separator, as money has: 3090 -> "3,090" (character counts)."""
    return f"{int(value or 0):,}"


def paragraphs(text: str) -> Markup:
    """Render text with blank-line-separated paragraphs as <p> elements."""
    parts = [p.strip() for p in (text or "").split("\n\n") if p.strip()]
    return Markup("".join(f"<p>{escape(p)}</p>" for p in parts))


def china_time(value) -> str:
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if value else ""


def register_template_helpers(app: Flask) -> None:
    app.add_template_filter(money)
    app.add_template_filter(paragraphs)
    app.add_template_filter(thousands)
    app.add_template_filter(format_date_cn, "date_cn")
    app.add_template_filter(format_month_day_cn, "month_day_cn")
    app.add_template_filter(format_weekday_cn, "weekday_cn")
    app.add_template_filter(mask_mobile)
    app.add_template_filter(china_time)
