#!/usr/bin/env python3
"""The proceedings booklet of 100 materials × 3000 characters: confreg against plain ReportLab.

    .venv/bin/python bench/booklet.py [--materials N] [--chars C] [--repeat R] [--json FILE]

Builds N Word-like materials in memory (no database), each about C Chinese characters of
realistic paragraphs with a few headings (背景 / 做法 / 成效), and renders them with
confreg.pdf.booklet.render_booklet: cover, table of contents, running header, page
numbers, outline, each material on a new page. Then it lays out the SAME paragraphs with
plain ReportLab: one SimpleDocTemplate, the same font, size, leading, indent and CJK
wrapping, a page break between materials, nothing else (no cover, contents, header, footer,
outline). Each renderer runs R times; the best time counts. Prints both times, the page
counts and the ratio (target <= 2.0: the contents need a second pass). Exit status: 0 PASS,
1 FAIL.

Times are CPU seconds of this process (time.process_time); wall-clock is printed too.
"""
import argparse
import json
import random
import sys
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import best_time  # noqa: E402  (bench/, the folder of this script)

from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate  # noqa: E402

from confreg.pdf import booklet as bk  # noqa: E402
from confreg.pdf.layout import markup  # noqa: E402
from confreg.services.uploads import count_chinese  # noqa: E402

TARGET_RATIO = 2.0
SENTENCES = [
    "近年来，街道党工委坚持以党建引领基层治理，把社区作为服务群众的最后一公里",
    "针对老旧小区物业管理缺位、居民诉求多元的突出问题，我们探索建立了“红色物业”联席会议制度",
    "社区党委牵头组织居委会、业委会、物业服务企业和驻区单位每月召开一次协商议事会",
    "通过网格化管理，将辖区划分为二十六个网格，每个网格配备一名专职网格员和若干名志愿者",
    "围绕“一老一小”服务需求，社区整合辖区资源开办了老年食堂和四点半课堂",
    "在资金保障方面，街道统筹使用党组织服务群众经费，并引入社会资金设立社区公益基金",
    "社会工作服务机构以项目化方式进驻社区，为困境儿童和独居老人提供个案管理和上门探访服务",
    "居民议事厅每季度开放一次，居民代表围绕停车难、加装电梯、垃圾分类等问题充分协商",
    "我们把群众满意度作为检验工作成效的根本标准，每半年开展一次入户满意度调查",
    "经过三年的持续推进，小区物业费收缴率由百分之五十八提高到百分之九十二",
    "社区志愿服务队伍从最初的十几人发展到现在的三百余人，形成了“时间银行”积分激励机制",
    "在疫情防控和防汛抗旱等急难险重任务中，这支队伍发挥了不可替代的作用",
    "下一步，我们将进一步完善多方参与的协商机制，推动社区治理从“有形覆盖”向“有效覆盖”转变",
    "同时加强社区工作者队伍建设，健全培训、考核和激励制度，提升专业化、职业化水平",
    "实践证明，只有坚持党建引领、居民主体、多方参与，才能真正激发社区治理的内生动力",
    "为破解中青年居民参与不足的难题，社区依托线上平台开设了“周末议事”和“云端课堂”",
    "辖区企业主动认领服务项目，提供就业岗位和技能培训，帮助困难家庭实现稳定就业",
    "物业服务企业设立党员先锋岗，主动公开收支情况，接受业主委员会和全体居民监督",
    "我们还建立了矛盾纠纷多元化解机制，做到小事不出网格、大事不出社区",
    "这些做法得到了上级部门的充分肯定，先后被评为省级和谐社区、全国示范社区",
]
HEADINGS = [("一、背景与起因", 1), ("二、主要做法", 1), ("（一）健全组织体系", 2),
            ("（二）整合服务资源", 2), ("（三）创新参与机制", 2), ("三、工作成效", 1),
            ("四、经验与启示", 1)]


def make_material(rng: random.Random, number: int, chars: int) -> bk.BookletMaterial:
    """About `chars` Chinese characters in paragraphs of 150-350, the headings spread in."""
    body: list[str] = []
    counted = 0
    while counted < chars:
        target = rng.randint(150, 350)
        text = ""
        while count_chinese(text) < target:
            text += rng.choice(SENTENCES) + rng.choice("，，。；")
        text = text[:-1] + "。"
        body.append(text)
        counted += count_chinese(text)
    paragraphs: list[dict] = []
    step = max(1, len(body) // len(HEADINGS))
    for i, text in enumerate(body):
        if i % step == 0 and i // step < len(HEADINGS):
            heading, level = HEADINGS[i // step]
            paragraphs.append({"kind": "heading", "level": level, "text": heading})
        paragraphs.append({"kind": "p", "text": text})
    return bk.BookletMaterial(
        title=f"党建引领“红色物业”破解老旧小区治理难题的探索与实践（之{number}）",
        unit=f"某某省某某市第{number}街道办事处", authors="张伟、王芳",
        category=f"分类{'一二三四'[number % 4]}", kind="docx", paragraphs=paragraphs)


def make_booklet(count: int, chars: int) -> bk.Booklet:
    rng = random.Random(7)
    materials = sorted((make_material(rng, n, chars) for n in range(1, count + 1)),
                       key=lambda m: m.category)
    return bk.Booklet(title="全国基层物业管理服务创新发展经验交流会", short_title="西宁交流会",
                      dates_text="2026年8月10日至13日", organiser="中国社会工作联合会城乡社区工作委员会",
                      place="青海省西宁市", materials=materials)


def render_plain_reportlab(booklet: bk.Booklet) -> bytes:
    """The same paragraphs in the same styles, one after another; ReportLab defaults otherwise."""
    story = []
    for material in booklet.materials:
        for paragraph in material.paragraphs:
            style = (bk.STYLE_TEXT_HEADINGS[paragraph["level"]] if paragraph["kind"] == "heading"
                     else bk.STYLE_TEXT)
            story.append(Paragraph(markup(paragraph["text"]), style))
        story.append(PageBreak())
    buffer = BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, leftMargin=bk.MARGIN_LEFT_MM * mm,
                      rightMargin=bk.MARGIN_RIGHT_MM * mm, topMargin=bk.MARGIN_TOP_MM * mm,
                      bottomMargin=bk.MARGIN_BOTTOM_MM * mm).build(story)
    return buffer.getvalue()


def page_count(pdf: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(BytesIO(pdf)).pages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--materials", type=int, default=100)
    parser.add_argument("--chars", type=int, default=3000, help="Chinese characters per material")
    parser.add_argument("--repeat", type=int, default=3, help="runs per renderer; best counts")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--save", help="write confreg's PDF here, to look at")
    args = parser.parse_args()

    booklet = make_booklet(args.materials, args.chars)
    characters = sum(count_chinese(p["text"]) for m in booklet.materials for p in m.paragraphs)
    bk.render_booklet(make_booklet(2, 300))  # warm up: imports, font tables
    ours, ours_wall, pdf = best_time(bk.render_booklet, booklet, args.repeat)
    plain, plain_wall, plain_pdf = best_time(render_plain_reportlab, booklet, args.repeat)
    if args.save:
        Path(args.save).write_bytes(pdf)

    ratio = ours / plain
    passed = ratio <= TARGET_RATIO
    figures = {
        "materials": args.materials, "chinese_characters": characters, "repeat": args.repeat,
        "confreg_seconds": round(ours, 3), "plain_reportlab_seconds": round(plain, 3),
        "confreg_wall_seconds": round(ours_wall, 3),
        "plain_reportlab_wall_seconds": round(plain_wall, 3),
        "confreg_pages": page_count(pdf), "plain_reportlab_pages": page_count(plain_pdf),
        "ratio": round(ratio, 3), "target_ratio": TARGET_RATIO, "pass": passed,
    }
    print(f"booklet, {args.materials} materials, {characters} Chinese characters "
          f"(best of {args.repeat}; CPU seconds, wall-clock in brackets)")
    print(f"  confreg booklet  {ours:7.3f} s  ({ours_wall:.3f} s)  "
          f"{figures['confreg_pages']} pages")
    print(f"  plain ReportLab  {plain:7.3f} s  ({plain_wall:.3f} s)  "
          f"{figures['plain_reportlab_pages']} pages")
    print(f"  ratio            {ratio:7.3f}    (target <= {TARGET_RATIO})")
    print("PASS" if passed else "FAIL")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
