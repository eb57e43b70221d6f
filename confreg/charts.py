"""Charts drawn by the app: small inline SVG, no JavaScript, no CDN.

The SVG has a viewBox and width 100%, so it scales to its container: the drawing units
are chosen so that at a phone's width (about 340 px of content) the text is still ~11 px.
Every bar carries data-label / data-value and a <title>, so it can be read back (tests,
screen readers, a hover on a desktop).
"""
import math
from dataclasses import dataclass
from datetime import date

from markupsafe import Markup, escape

WIDTH = 400  # drawing units across; the page scales them to the container
FONT_SIZE = 13
ROW_HEIGHT = 24  # one horizontal bar and its gap
BAR_COLOUR = "#a61b1b"
GRID_COLOUR = "#d9dee5"
TEXT_COLOUR = "#1f2933"
MUTED_COLOUR = "#5f6b7a"
FONT_FAMILY = ('-apple-system, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", '
               '"Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif')


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    title: str = ""  # the tooltip; defaults to "label：value"


def nice_ticks(largest: int, target: int = 5) -> list[int]:
    """Whole-number axis ticks from 0 past `largest`, in steps of 1, 2 or 5 × 10^k."""
    largest = max(int(largest), 1)
    rough = largest / target
    magnitude = 10 ** math.floor(math.log10(rough)) if rough >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= rough)
    step = max(int(step), 1)
    top = step * math.ceil(largest / step)
    return list(range(0, top + 1, step))


def text_width(text: str, size: float = FONT_SIZE) -> float:
    """Estimate a label's width: CJK characters are one em, Latin and digits ~0.6 em."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.6 for ch in text)


def _fmt(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


def _svg(height: float, title: str, body: list[str], css_class: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" role="img" '
        f'viewBox="0 0 {WIDTH} {_fmt(height)}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'font-family=\'{FONT_FAMILY}\' font-size="{FONT_SIZE}" fill="{TEXT_COLOUR}" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
        + "".join(body) + "</svg>"
    )


def _bar(x: float, y: float, w: float, h: float, bar: Bar) -> str:
    tip = bar.title or f"{bar.label}：{bar.value}"
    return (f'<rect class="bar" x="{_fmt(x)}" y="{_fmt(y)}" width="{_fmt(w)}" '
            f'height="{_fmt(h)}" fill="{BAR_COLOUR}" data-label="{escape(bar.label)}" '
            f'data-value="{bar.value}"><title>{escape(tip)}</title></rect>')


def horizontal_bars(bars: list[Bar], *, title: str, unit: str = "") -> Markup:
    """One labelled bar per row (longest first is the caller's choice), an axis below."""
    label_width = max((text_width(b.label) for b in bars), default=0) + 8
    ticks = nice_ticks(max((b.value for b in bars), default=0))
    value_room = text_width(str(ticks[-1]) + unit) + 6
    left, right = label_width, WIDTH - value_room
    scale = (right - left) / ticks[-1]
    top = 4
    height = top + ROW_HEIGHT * len(bars) + 22
    body = []
    axis_y = top + ROW_HEIGHT * len(bars)
    for tick in ticks:
        x = left + tick * scale
        body.append(f'<line class="grid" x1="{_fmt(x)}" y1="{top}" x2="{_fmt(x)}" '
                    f'y2="{_fmt(axis_y)}" stroke="{GRID_COLOUR}" stroke-width="1"/>')
        body.append(f'<text class="tick" x="{_fmt(x)}" y="{_fmt(axis_y + 15)}" '
                    f'text-anchor="middle" fill="{MUTED_COLOUR}">{tick}</text>')
    for row, bar in enumerate(bars):
        y = top + row * ROW_HEIGHT
        middle = y + ROW_HEIGHT / 2 + FONT_SIZE * 0.35
        width = bar.value * scale
        body.append(f'<text class="label" x="{_fmt(left - 6)}" y="{_fmt(middle)}" '
                    f'text-anchor="end">{escape(bar.label)}</text>')
        body.append(_bar(left, y + 3, width, ROW_HEIGHT - 6, bar))
        body.append(f'<text class="value" x="{_fmt(left + width + 4)}" y="{_fmt(middle)}">'
                    f'{bar.value}{escape(unit)}</text>')
    body.append(f'<line x1="{_fmt(left)}" y1="{top}" x2="{_fmt(left)}" y2="{_fmt(axis_y)}" '
                f'stroke="{MUTED_COLOUR}" stroke-width="1"/>')
    return _svg(height, title, body, "chart-hbars")


def column_bars(bars: list[Bar], *, title: str, max_labels: int = 8) -> Markup:
    """Vertical bars along a time axis; every n-th bar labelled so labels never overlap."""
    ticks = nice_ticks(max((b.value for b in bars), default=0))
    left = text_width(str(ticks[-1])) + 10
    right, top, plot_height = WIDTH - 4, 16, 150
    axis_y = top + plot_height
    height = axis_y + 22
    slot = (right - left) / max(len(bars), 1)
    scale = plot_height / ticks[-1]
    every = max(1, math.ceil(len(bars) / max_labels))
    body = []
    for tick in ticks:
        y = axis_y - tick * scale
        body.append(f'<line class="grid" x1="{_fmt(left)}" y1="{_fmt(y)}" x2="{_fmt(right)}" '
                    f'y2="{_fmt(y)}" stroke="{GRID_COLOUR}" stroke-width="1"/>')
        body.append(f'<text class="tick" x="{_fmt(left - 5)}" y="{_fmt(y + FONT_SIZE * 0.35)}" '
                    f'text-anchor="end" fill="{MUTED_COLOUR}">{tick}</text>')
    show_values = slot >= text_width("000")
    for index, bar in enumerate(bars):
        x = left + index * slot
        h = bar.value * scale
        gap = min(slot * 0.2, 4)
        body.append(_bar(x + gap / 2, axis_y - h, max(slot - gap, 0.5), h, bar))
        if show_values and bar.value:
            body.append(f'<text class="value" x="{_fmt(x + slot / 2)}" y="{_fmt(axis_y - h - 3)}" '
                        f'text-anchor="middle">{bar.value}</text>')
        if index % every == 0:
            body.append(f'<text class="tick" x="{_fmt(x + slot / 2)}" y="{_fmt(axis_y + 15)}" '
                        f'text-anchor="middle" fill="{MUTED_COLOUR}">{escape(bar.label)}</text>')
    body.append(f'<line x1="{_fmt(left)}" y1="{_fmt(axis_y)}" x2="{_fmt(right)}" '
                f'y2="{_fmt(axis_y)}" stroke="{MUTED_COLOUR}" stroke-width="1"/>')
    return _svg(height, title, body, "chart-columns")


def day_label(day: date) -> str:
    return f"{day.month}/{day.day}"
