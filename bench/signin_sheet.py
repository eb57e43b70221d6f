#!/usr/bin/env python3
"""The sign-in sheet for 10,000 attendees: confreg's renderer against plain ReportLab.

    .venv/bin/python bench/signin_sheet.py [--rows N] [--repeat R] [--json FILE]

Builds the sign-in sheet's data in memory (no database): N attendees from 31 provinces
and about N/5 units whose names run from 4 to 60 characters, sorted as the service sorts
them. Renders it with confreg.pdf.lists.render_signin_sheet, then renders the SAME rows
with plain ReportLab: a minimal SimpleDocTemplate + Table(repeatRows=1) in the same
embedded font, the same columns and the same row height, nothing else (no shrinking, no
title, no page header or footer). Each renderer runs R times; the best time counts.
Prints both times, the page counts, the ratio (target <= 1.5) and the absolute time
(target <= 3 s). Exit status: 0 PASS, 1 FAIL.

Times are CPU seconds of this process (time.process_time): rendering is single-threaded
pure CPU work, so on an idle machine they equal wall-clock seconds, and unlike wall-clock
they do not grow when other processes share the CPU. Wall-clock seconds are printed too.
Whether ReportLab's C accelerator (the rl_accel package) is installed is printed as well:
without it, text measuring and number formatting run in pure Python, in both renderers.
"""
import argparse
import json
import random
import sys
from datetime import date
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import best_time  # noqa: E402  (bench/, the folder of this script)

from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.platypus import SimpleDocTemplate, Table, TableStyle  # noqa: E402

from confreg.checks import PROVINCES, mask_mobile  # noqa: E402
from confreg.pdf import layout  # noqa: E402
from confreg.pdf.lists import (SIGNIN_COLUMNS, SIGNIN_ROW_MM, ListedAttendee,  # noqa: E402
                               SigninSheet, _fill_width, render_signin_sheet)

TARGET_RATIO = 1.5
TARGET_SECONDS = 3.0
TITLE = "全国基层物业管理服务创新发展经验交流会暨2027年常务委员单位会议"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
DISTRICTS = ["城东区", "城中区", "城西区", "城北区", "朝阳区", "海淀区", "浦东新区", "天河区"]
UNIT_KINDS = ["街道办事处", "社区居民委员会", "物业管理协会", "社会工作服务中心",
              "街道办事处清真巷社区居民委员会", "社区党群服务中心（社区事务受理服务中心）",
              "物业服务有限公司", "民政局"]
TITLES = ["主任", "副主任", "社区党委书记、居委会主任", "物业服务中心副主任", "社工", "科长",
          "总经理", "理事长"]


def make_attendees(count: int, seed: int = 3) -> list[ListedAttendee]:
    """`count` attendees of about count/5 units, sorted by province, unit and name."""
    rng = random.Random(seed)
    units = []
    for n in range(max(1, count // 5)):
        province = rng.choice(PROVINCES[:31])
        name = (province.removesuffix("省").removesuffix("市") + rng.choice(DISTRICTS)
                + f"第{n}" + rng.choice(UNIT_KINDS))
        if n % 97 == 0:  # now and then a name far too long for the column
            name = (name + "暨基层社会治理创新实践基地联合工作站物业管理服务中心")[:60]
        units.append((province, name))
    people = []
    for i in range(count):
        province, unit = units[rng.randrange(len(units))]
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        if i % 500 == 0:
            name = "阿卜杜热合曼·买买提"
        people.append(ListedAttendee(
            province=province, unit_name=unit, name=name, gender=rng.choice("男女"),
            ethnicity="汉族", title=rng.choice(TITLES),
            mobile=mask_mobile(f"139{rng.randrange(10**8):08d}"), id_number="",
            accommodation="合住", diet=""))
    order = {p: i for i, p in enumerate(PROVINCES)}
    people.sort(key=lambda a: (order[a.province], a.unit_name, a.name))
    return people


def render_confreg(attendees: list[ListedAttendee]) -> bytes:
    return render_signin_sheet(SigninSheet(event_title=TITLE, organiser="城乡社区工作委员会",
                                           day=date(2027, 8, 21), attendees=attendees,
                                           shown_in_full=False))


def render_plain_reportlab(attendees: list[ListedAttendee]) -> bytes:
    """The same rows, columns, widths, font and row height; ReportLab defaults otherwise."""
    columns = _fill_width(SIGNIN_COLUMNS)
    data = [[c.header for c in columns]]
    data += [[str(n), a.name, a.unit_name, a.title, a.mobile, ""]
             for n, a in enumerate(attendees, start=1)]
    table = Table(data, colWidths=[c.width_mm * mm for c in columns], repeatRows=1,
                  rowHeights=[None] + [SIGNIN_ROW_MM * mm] * len(attendees))
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (-1, -1), layout.FONT),
                               ("GRID", (0, 0), (-1, -1), 0.5, layout.RULE)]))
    buffer = BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4,
                            leftMargin=layout.PAGE_MARGIN_LEFT_MM * mm,
                            rightMargin=layout.PAGE_MARGIN_RIGHT_MM * mm,
                            topMargin=layout.PAGE_MARGIN_TOP_MM * mm,
                            bottomMargin=layout.PAGE_MARGIN_BOTTOM_MM * mm)
    doc.build([table])
    return buffer.getvalue()


def accelerated() -> bool:
    from reportlab.lib import rl_accel

    return not rl_accel.fp_str.__module__.startswith("reportlab")


def page_count(pdf: bytes) -> int:
    return pdf.count(b"/Type /Page\n") or pdf.count(b"/Type /Page ")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="attendees (default 10000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per renderer; best counts")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--save", help="write confreg's PDF here, to look at")
    args = parser.parse_args()

    attendees = make_attendees(args.rows)
    render_confreg(attendees[:50])  # warm up: font subsetting tables, imports
    ours, ours_wall, pdf = best_time(render_confreg, attendees, args.repeat)
    plain, plain_wall, plain_pdf = best_time(render_plain_reportlab, attendees, args.repeat)
    if args.save:
        Path(args.save).write_bytes(pdf)

    ratio = ours / plain
    passed = ratio <= TARGET_RATIO and ours <= TARGET_SECONDS
    figures = {
        "rows": args.rows, "repeat": args.repeat,
        "confreg_seconds": round(ours, 3), "plain_reportlab_seconds": round(plain, 3),
        "confreg_wall_seconds": round(ours_wall, 3),
        "plain_reportlab_wall_seconds": round(plain_wall, 3),
        "rl_accel": accelerated(),
        "confreg_pages": page_count(pdf), "plain_reportlab_pages": page_count(plain_pdf),
        "ratio": round(ratio, 3), "target_ratio": TARGET_RATIO,
        "target_seconds": TARGET_SECONDS, "pass": passed,
    }
    print(f"sign-in sheet, {args.rows} attendees (best of {args.repeat}; CPU seconds, "
          f"wall-clock in brackets; ReportLab C accelerator: "
          f"{'yes' if figures['rl_accel'] else 'no'})")
    print(f"  confreg          {ours:7.3f} s  ({ours_wall:.3f} s)  "
          f"{figures['confreg_pages']} pages")
    print(f"  plain ReportLab  {plain:7.3f} s  ({plain_wall:.3f} s)  "
          f"{figures['plain_reportlab_pages']} pages")
    print(f"  ratio            {ratio:7.3f}    (target <= {TARGET_RATIO})")
    print(f"  absolute         {ours:7.3f} s  (target <= {TARGET_SECONDS} s)")
    print("PASS" if passed else "FAIL")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
