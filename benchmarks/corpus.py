"""Synthetic newspaper pages in our conventions, for benchmarks (no real newspaper text).

Each page mixes the layouts the parser meets: section markers, markdown and
plain headlines, bylines, datelines, wrapped paragraphs, photo credits.
Text is drawn from a fixed vocabulary with a seeded RNG, so runs compare.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

# Word lists read best as one string each.
_WORDS = (  # noqa: SIM905
    "山城 北岭 南湾 青石镇 河畔 新桥 樱桃园 渔港 图书角 夜班公交 社区 工厂 学校 医院 车站 "
    "开通 完工 启动 推进 建成 举行 发布 提升 完善 带动 服务 群众 项目 工程 活动 计划 "
    "今年 近日 日前 目前 全市 全区 各地 持续 不断 进一步 有效 稳步 加快"
).split()
_NAMES = "林小河 周远 吴一 郑二 甲乙 丙丁 孙三 李四 王五 赵六".split()  # noqa: SIM905
_SECTIONS = "速递 聚焦 一线 图见 众观 新视界".split()  # noqa: SIM905
_PLACES = "北岭区 南湾县 青石旗 东山市".split()  # noqa: SIM905


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(6, 14))
    return "".join(words[:3]) + "，" + "".join(words[3:]) + rng.choice("。。。！")


def _paragraph(rng: random.Random) -> str:
    text = "".join(_sentence(rng) for _ in range(rng.randint(2, 5)))
    if rng.random() < 0.2:  # a column break in the middle of the paragraph
        cut = rng.randint(5, len(text) - 5)
        text = text[:cut].rstrip("。！，") + "\n\n" + text[cut:]
    return text


def page(rng: random.Random, articles: int) -> str:
    """One page of ``articles`` articles."""
    out: list[str] = []
    markdown = rng.random() < 0.5
    for number in range(articles):
        if number % 3 == 0:
            section = rng.choice(_SECTIONS)
            out.append(f"● {section}" if markdown else section)
        if not markdown and rng.random() < 0.4:
            out.append(rng.choice(_PLACES))
        title = "".join(rng.choices(_WORDS, k=rng.randint(3, 6)))
        out.append(f"## {title}" if markdown else title)
        name = rng.choice(_NAMES)
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        first = _paragraph(rng)
        if rng.random() < 0.5:
            out.append(f"□ 本报记者 {name}")
            out.append(first)
        else:
            out.append(f"本报{month}月{day}日讯 (记者 {name}){first}")
        out.extend(_paragraph(rng) for _ in range(rng.randint(2, 6)))
        if rng.random() < 0.1:
            out.append(f"本报记者 {rng.choice(_NAMES)} 摄")
    return "\n\n".join(out) + "\n"


def pages(seed: int, count: int, articles_per_page: int = 8) -> Iterator[str]:
    """``count`` pages from a seeded generator."""
    rng = random.Random(seed)
    for _ in range(count):
        yield page(rng, articles_per_page)


# A provincial daily: about a dozen pages an issue, eight articles a page, so ~100 articles a day.
PAGES_PER_ISSUE = 12
ARTICLES_PER_PAGE = 8
FIRST_ISSUE = date(2015, 1, 1)


def page_name(number: int) -> str:
    """The file of the ``number``-th page (0-based) of the archive: ``2015-01-01/2015-01-01_01.txt``."""
    issue = FIRST_ISSUE + timedelta(days=number // PAGES_PER_ISSUE)
    return f"{issue:%Y-%m}/{issue}_{number % PAGES_PER_ISSUE + 1:02d}.txt"


def page_count(articles: int) -> int:
    """How many pages hold ``articles`` articles."""
    return -(-articles // ARTICLES_PER_PAGE)


def write_archive(folder: Path, articles: int, seed: int = 1) -> int:
    """Write pages holding about ``articles`` articles under ``folder`` (once: kept when present).

    Returns how many page files the archive has.  A ``.complete`` marker says
    an earlier run finished writing, so an interrupted run starts over.
    """
    count = page_count(articles)
    marker = folder / ".complete"
    if marker.is_file() and marker.read_text() == f"{count} {seed}\n":
        return count
    shutil.rmtree(folder, ignore_errors=True)
    for number, text in enumerate(pages(seed, count, ARTICLES_PER_PAGE)):
        path = folder / page_name(number)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    marker.write_text(f"{count} {seed}\n")
    return count
