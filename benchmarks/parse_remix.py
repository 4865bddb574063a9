"""How general the parser is: the development set's articles laid out again on new pages.

    python benchmarks/parse_remix.py                       # 60 pages, seed 1, parsed by this checkout
    python benchmarks/parse_remix.py --pages 120 --seed 2 --out /tmp/remix
    python benchmarks/parse_remix.py --seed 1 --tree ../main --tree /tmp/old   # two checkouts, same pages
    python benchmarks/parse_remix.py --as-dev              # the ten development pages themselves

The ten development pages (``../shared/dev``) are laid out by
``../shared/dev/build/build.py`` from 60 real articles, each page with its own
conventions.  This script imports that builder at run time, deals the same 60
articles onto ``--pages`` new pages, and gives each page a random mix of the
conventions the ten pages show one by one: section markers (none, ``●``,
``【】``, bare words, a doubled running head), headlines over or under their
stories, ``##``/``###`` headings, kicker and subtitle stacks, column tags, a
headline printed a character to a line, wraps of 13 to 40 characters or a
paragraph to a line, column breaks every n lines or mid-sentence, justified
lines, stray spaces, indented paragraphs, full- or half-width punctuation,
folio, running head and editor lines, jump notes, captions, and two, one or no
blank lines between stories.  Every line break is still recorded by build.py's
own ``Page.para``, its ``Page.gold`` writes and checks each key (snippets once
on the page, joins broken on the raw page, spaced lines, junk), and a page
whose key fails a check is drawn again.  The pages are parsed as ``digest parse
--jsonl`` does and scored by ``../shared/eval/score_parse.py``, overall and per
convention.

Nothing of ../shared is copied here: the article texts and keys are read from
build.py when the script runs; the layout words (section names, papers, editors)
are made up.  The articles are the development set's own, so the score measures
how well the parser copes with layouts it was not tuned on, not with new text.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

Made = list[tuple[Any, dict[str, Any]]]  # pages (build.py's Page) with their keys
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared"

# Made-up layout words: labels printed around the articles, never article text.
SECTIONS = "要闻 综合 社会 经济 民生 城市 文化 乡村 观察 区县 法治 教育 健康 体育".split()  # noqa: SIM905
# A bare word over an untitled item could be its headline; a column of briefs or photos says what it is.
ROUNDUPS = "图片新闻 快讯 简讯 新闻速览 图片集锦".split()  # noqa: SIM905
PAGE_NAMES = "综合新闻 城市周刊 区县新闻 社会民生 文化旅游 经济观察".split()  # noqa: SIM905
PAPERS = "江城日报 北湖晚报 南岭都市报 青山日报 东川晨报 西江报".split()  # noqa: SIM905
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "明华建国立平晓红伟军丽静敏强磊洋勇艳杰娟涛超"
WEEKDAYS = "一二三四五六日"
INDENT = "\u3000\u3000"
SCAN_NOTE = "扫码看视频"


@dataclass(frozen=True)
class Printing:
    """How the development pages print one article, which any new layout must keep for the key to hold."""

    given: dict[str, Any]  # build.A's arguments other than width and section: title override, alt titles, tag
    whole: frozenset[int]  # paragraphs printed whole, never wrapped (captions, crossheads, labelled lines)
    glued: frozenset[int]  # whole paragraphs printed with the next one on the very next line
    no_join: frozenset[int]  # paragraphs whose own line breaks are headings, not wraps


@dataclass(frozen=True)
class Layout:
    """One page's conventions."""

    full: bool  # full-width punctuation
    after: bool  # headlines printed under their stories
    blanks: str  # "double", "single" or "none": blank lines between stories (none: no blank line at all)
    markers: str  # "none", "bullet" (● X), "bracket" (【X】), "bare" (X alone) or "running" (XX at the top)
    heads: str  # "", "## " or "### " before a headline
    width: int | None  # hard-wrap width; None prints a paragraph to a line
    jitter: int
    col_every: int | None  # a column break every n body lines, wherever it falls
    col_rate: float  # unwrapped pages: chance that a paragraph has a mid-sentence column break
    justify_rate: float  # wrapped pages: chance that a paragraph has a line spread with spaces
    indent: bool  # paragraphs open with
    folio: bool
    editor: bool
    stacks: bool  # kickers, subtitles and column tags printed with their headlines
    title_gap: bool  # a blank line between a headline and the byline under it


def draw_layout(rng: random.Random) -> Layout:
    """A random mix of the development pages' conventions (no mix a careful reader could not read)."""
    after = rng.random() < 0.25
    # Headline-last pages need the gaps around headlines; a bare section word needs its blank lines and,
    # as a short line between two stories, would pass for a headline-last page's headline.
    blanks = rng.choice(["double", "single"] if after else ["double", "double", "single", "single", "none"])
    bare = [] if after or blanks == "none" else ["bare", "bare"]
    markers = rng.choice(["none", "bullet", "bracket", "running", *bare])
    width: int | None = None
    jitter = 0
    if rng.random() < 0.65:
        width = rng.randint(13, 40)
        jitter = min(rng.randint(0, 2), width - 13, 40 - width)
    return Layout(
        full=rng.random() < 0.5,
        after=after,
        blanks=blanks,
        markers=markers,
        heads="" if after else rng.choice(["", "", "## ", "### "]),
        width=width,
        jitter=jitter,
        col_every=rng.randint(15, 25) if width and rng.random() < 0.7 else None,
        col_rate=0.0 if width or rng.random() < 0.3 else rng.choice([0.15, 0.3]),
        justify_rate=rng.choice([0.0, 0.0, 0.1, 0.25]) if width else 0.0,
        indent=rng.random() < 0.2,
        folio=rng.random() < 0.3,
        editor=rng.random() < 0.35,
        stacks=rng.random() < 0.8,
        title_gap=after or rng.random() < 0.8,
    )


def features(layout: Layout, page: Any) -> dict[str, str]:
    """The page's conventions as the per-convention breakdown groups them."""
    width = layout.width
    text = page.text()
    return {
        "headline": "after story" if layout.after else "before story",
        "blank lines": {"double": "two between stories", "single": "one", "none": "none at all"}[
            layout.blanks
        ],
        "wrap": "none" if not width else "13-19" if width < 20 else "20-29" if width < 30 else "30-40",
        "column breaks": "every n lines"
        if layout.col_every
        else "mid-sentence"
        if layout.col_rate and any(kind == "col" for a in page.arts for _, _, kind in a.breaks)
        else "none",
        "section marks": layout.markers,
        "headline marks": layout.heads.strip() or "plain",
        "punctuation": "full-width" if layout.full else "half-width",
        "indent": "yes" if layout.indent else "no",
        "folio/editor": "yes" if layout.folio or layout.editor else "no",
        "kicker/subtitle": "printed"
        if layout.stacks and not layout.after and any((a.kicker or a.subtitle) and a.title for a in page.arts)
        else "none",
        "justified lines": "yes" if any(a.exact for a in page.arts) else "no",
        "jump notes": "yes" if "上接第" in text or "下转第" in text else "no",
    }


# -- build.py ------------------------------------------------------------------------------------


def load_build(shared: Path) -> tuple[ModuleType, ModuleType]:
    """build.py and check_keys.py from ``shared/dev/build``, imported as build.py imports its own."""
    folder = shared / "dev" / "build"
    if not (folder / "build.py").is_file():
        sys.exit(
            f"parse_remix: {folder / 'build.py'} not found; --shared names the folder holding dev/ and eval/"
        )
    if not __debug__:
        sys.exit("parse_remix: build.py checks its keys with assert; run without python -O")
    sys.path.insert(0, str(folder))
    modules = [importlib.import_module(name) for name in ("build", "check_keys")]
    for module in modules:
        if Path(module.__file__ or "").resolve().parent != folder.resolve():
            sys.exit(f"parse_remix: imported {module.__name__} from {module.__file__}, not from {folder}")
    return modules[0], modules[1]


@contextlib.contextmanager
def patched(owner: object, **attrs: Any) -> Iterator[None]:
    """A module's or class's attributes replaced for the time of a with-block."""
    saved = {name: getattr(owner, name) for name in attrs}
    for name, value in attrs.items():
        setattr(owner, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(owner, name, value)


def harvest(build: ModuleType) -> dict[str, Printing]:
    """Run the ten page definitions and note, per article, what its key relies on in how it is printed."""
    flowing: dict[str, set[int]] = {}

    para, init = build.Page.para, build.A.__init__

    def recording_para(page: Any, a: Any, pi: int, **kw: Any) -> None:
        flowing.setdefault(a.key, set()).add(pi)
        para(page, a, pi, **kw)

    def keeping_init(a: Any, key: str, **kw: Any) -> None:
        init(a, key, **kw)
        a.given = kw

    with patched(build.Page, para=recording_para), patched(build.A, __init__=keeping_init):
        pages = [f() for f in build.PAGE_FUNCS]
    found = {}
    for p in pages:
        for a in p.arts:
            whole = [i for i in range(len(a.rep)) if i not in flowing.get(a.key, set())]
            glued = [i for i in whole if i + 1 in whole and _adjacent(p.out, a.rep[i], a.rep[i + 1])]
            given = {k: v for k, v in a.given.items() if k not in ("full", "section")}
            found[a.key] = Printing(given, frozenset(whole), frozenset(glued), frozenset(a.no_join))
    return found


def _adjacent(lines: list[str], first: str, second: str) -> bool:
    return any(x == first and y == second for x, y in itertools.pairwise(lines))


# -- one page ------------------------------------------------------------------------------------


class Redraw(Exception):
    """The page drawn cannot carry a sound key; draw another."""


class Remix:
    """Lays out pages of the development articles with build.py's Page and A."""

    def __init__(self, build: ModuleType, printing: dict[str, Printing]) -> None:
        self.build = build
        self.printing = printing

    def fits(self, key: str, layout: Layout) -> bool:
        """Whether a reader could still tell the article apart on a page of this layout.

        Under its story a headline cannot mark where an untitled item starts, nor keep the crossheads
        opening a continuation from reading as the headline of the story above.
        """
        if not layout.after:
            return True
        return bool(self.build.ART[key]["title"]) and 0 not in self.printing[key].no_join

    def page(
        self, name: str, keys: list[str], layout: Layout, rng: random.Random
    ) -> tuple[Any, dict[str, Any]]:
        """One page of the articles ``keys`` in ``layout``; raises Redraw when its key fails a check."""
        b = self.build
        p = b.Page(name, rng.randrange(2**31))
        conv: Callable[[str | None], str | None] = b.fw if layout.full else (lambda s: s)
        if layout.folio:
            day = date(rng.randint(2012, 2024), rng.randint(1, 12), rng.randint(1, 28))
            stamp = f"{rng.choice(PAPERS)}\u3000{day.year}年{day.month}月{day.day}日"
            number = f"第{rng.randint(1, 16):02d}版：{rng.choice(PAGE_NAMES)}"
            p.add("", f"{stamp}\u3000星期{WEEKDAYS[day.weekday()]}\u3000{number}", "")
            p.junk += [stamp, number]
        groups = self._sections(keys, layout, rng)
        if layout.markers == "running":
            head = str(groups[0][0]) * 2
            p.add("", head, "")
            p.junk.append(head)
        for label, members in groups:
            if layout.markers == "bullet":
                self._gap(p)
                p.add(f"● {label}", "")
                p.junk.append("●")
            elif layout.markers == "bracket":
                self._gap(p)
                p.add(f"【{label}】", "")
                p.junk.append("【")
            elif layout.markers == "bare":
                self._gap(p)
                p.add(label, "")
            for key in members:
                self._article(p, key, label, layout, conv, rng)
                if layout.blanks == "double":
                    p.blank()
        if layout.editor:
            name_ = rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.randint(1, 2)))
            self._gap(p)
            p.add(f"{rng.choice(['编辑', '责任编辑'])}：{name_}")
            p.junk.append(name_)
        if layout.heads:
            p.junk.append(layout.heads.strip())
        if layout.blanks == "none":
            p.out = [line for line in p.out if line.strip()]
        p.junk = list(dict.fromkeys(p.junk))
        self._relabel_breaks(p)
        try:
            gold = p.gold()
        except AssertionError as exc:
            raise Redraw(f"build.py's check: {exc}") from exc
        self._check_exact(p)
        return p, gold

    @staticmethod
    def _gap(p: Any) -> None:
        if p.out and p.out[-1]:
            p.blank()

    def _sections(
        self, keys: list[str], layout: Layout, rng: random.Random
    ) -> list[tuple[str | None, list[str]]]:
        """The articles in sections; untitled items open a section, where a reader sees them start."""
        if layout.markers in ("none", "running"):
            groups = [keys]
        else:
            count = rng.randint(1, min(3, max(1, len(keys) // 2)))
            cuts = sorted(rng.sample(range(1, len(keys)), count - 1))
            groups = [keys[i:j] for i, j in zip([0, *cuts], [*cuts, len(keys)], strict=True)]
        labels = rng.sample(SECTIONS, len(groups))
        roundups = rng.sample(ROUNDUPS, len(groups))
        out: list[tuple[str | None, list[str]]] = []
        for label, roundup, members in zip(labels, roundups, groups, strict=True):
            untitled = [k for k in members if not self.build.ART[k]["title"]]
            if layout.markers == "none":
                name = None
            elif untitled and layout.markers == "bare":
                name = roundup
            else:
                name = label
            out.append((name, untitled + [k for k in members if k not in untitled]))
        return out

    def _article(
        self,
        p: Any,
        key: str,
        section: str | None,
        layout: Layout,
        conv: Callable[[str | None], str | None],
        rng: random.Random,
    ) -> None:
        b = self.build
        pr = self.printing[key]
        given = dict(pr.given)
        tags = given.pop("alt_sections", [])
        show_tags = layout.stacks and not layout.after and bool(tags)
        a = p.art(
            b.A(key, full=layout.full, section=section, alt_sections=tags if show_tags else [], **given)
        )
        a.no_join |= pr.no_join
        title = conv(a.src["title"])
        kicker = a.kicker if layout.stacks and not layout.after else None
        subtitle = a.subtitle if layout.stacks and not layout.after else None
        a.alt_titles = list(
            dict.fromkeys([*a.alt_titles, *self._readings(title, a.kicker, a.subtitle, a.title)])
        )
        indent = INDENT if layout.indent else ""

        if not layout.after and title:
            if show_tags:
                p.add(*tags)
            if kicker:
                p.add(kicker)
            plain = not (kicker or subtitle or show_tags or layout.heads)
            if plain and len(title) <= 8 and " " not in title and rng.random() < 0.1:
                p.add(*title)  # one character to a line, as a narrow photo headline
            else:
                p.add(layout.heads + title)
            if subtitle:
                p.add(subtitle)
            # A text opening with crossheads is a continuation (d07): its note keeps them from reading as
            # subtitles.  Any uncredited, undated story may be one.
            if 0 in a.no_join or (not a.byline and not a.authors and not a.date and rng.random() < 0.15):
                p.add(conv(f"(上接第{rng.randint(1, 4)}版)"))
                p.junk.append("上接第")
            scan = rng.random() < 0.05
            # As on the development pages, only a byline may follow a headline with no blank line between.
            if layout.title_gap or scan or a.captions or not a.byline:
                p.blank()
            if scan:
                p.add(SCAN_NOTE, "")
                p.junk.append(SCAN_NOTE)
        if a.captions:
            p.add(*a.captions)
            if not a.byline or rng.random() < 0.5:
                p.blank()
        if a.byline:
            p.add(a.byline)
            self._maybe_blank(p, rng, 0.7)
        if layout.after:
            self._gap(p)
        self._body(p, a, pr, layout, conv, rng, indent)
        if a.trailer:
            p.add((" " if rng.random() < 0.1 else "") + a.trailer)
            p.blank()
        if layout.after and title:
            self._gap(p)
            p.add(title, "")

    def _body(
        self,
        p: Any,
        a: Any,
        pr: Printing,
        layout: Layout,
        conv: Callable[[str | None], str | None],
        rng: random.Random,
        indent: str,
    ) -> None:
        b = self.build
        last = len(a.rep) - 1
        # A jump note follows the text only where no credit has to close it.
        credits = b.squash((a.byline or "") + "".join(a.captions) + a.rep[0][:60])
        jump = (
            not a.trailer
            and all(b.squash(name) in credits for name in a.authors)
            and last not in pr.whole
            and rng.random() < 0.08
        )
        for pi, text in enumerate(a.rep):
            if pi in pr.whole:
                p.add(indent + text)
                if pi not in pr.glued:
                    p.blank()
                continue
            kw: dict[str, Any] = {"prefix": indent}
            inner = 0 < pi < last
            if layout.width:
                kw.update(width=layout.width, jitter=layout.jitter, col_every=layout.col_every)
                lines = len(text) // layout.width
                if inner and lines >= 3 and rng.random() < layout.justify_rate:
                    kw["justify"] = (rng.randint(1, lines - 2),)
            elif rng.random() < layout.col_rate:
                mark = self._mid_sentence(text, a.stored[pi], rng)
                if mark:
                    kw["col_at"] = (mark,)
            if inner and rng.random() < 0.05:
                digit = self._before_number(text, rng)
                if digit:
                    kw["space_before"] = (digit,)
            if jump and pi == last:
                kw["suffix"] = conv(f"(下转第{rng.randint(2, 8)}版)")
                p.junk.append("下转第")
            p.para(a, pi, **kw)

    def _mid_sentence(self, text: str, stored: list[int], rng: random.Random) -> str | None:
        """A snippet of ``text`` unique in it, opening at a place where no sentence ends."""
        b = self.build
        spots = [
            k
            for k in range(8, len(text) - 8)
            if text[k - 1] not in b.SENTENCE_END
            and text[k] not in b.NO_LINE_START
            and text[k - 1] not in b.NO_LINE_END
            and not (text[k - 1] in b.ALNUM and text[k] in b.ALNUM)
            and k not in stored
            and text.count(text[k : k + 6]) == 1
        ]
        return text[(k := rng.choice(spots)) : k + 6] if spots else None

    @staticmethod
    def _before_number(text: str, rng: random.Random) -> str | None:
        spots = [
            k
            for k in range(1, len(text) - 3)
            if text[k].isdigit() and not text[k - 1].isascii() and text.count(text[k : k + 3]) == 1
        ]
        return text[(k := rng.choice(spots)) : k + 3] if spots else None

    @staticmethod
    def _maybe_blank(p: Any, rng: random.Random, chance: float = 0.5) -> None:
        if rng.random() < chance:
            p.blank()

    @staticmethod
    def _readings(
        title: str | None, kicker: str | None, subtitle: str | None, keyed: str | None
    ) -> list[str]:
        """A headline read with its kicker or subtitle, as the keys accept (README: alt_titles)."""
        if not title:
            return []
        found = [title]
        if kicker:
            found.append(f"{kicker} {title}")
        if subtitle:
            found.append(f"{title} {subtitle}")
        if kicker and subtitle:
            found.append(f"{kicker} {title} {subtitle}")
        return [t for t in found if t != keyed]

    def _relabel_breaks(self, p: Any) -> None:
        """A column break every n lines that falls after a full stop asks no join, like any break there.

        build.py asserts that no column break falls there because its own pages place them by hand;
        here they fall where the count says, so such a break counts as a plain wrap (no join either way).
        """
        ends = self.build.SENTENCE_END
        for a in p.arts:
            a.breaks = [
                (pi, off, "wrap" if kind == "col" and a.rep[pi][off - 1] in ends else kind)
                for pi, off, kind in a.breaks
            ]

    def _check_exact(self, p: Any) -> None:
        """A spread line is asked back only from the text proper, never from a dateline or credit."""
        squash = self.build.squash
        for a in p.arts:
            body = "\n\n".join(a.rep)
            proper = squash(body[body.index(a.start) : body.index(a.end) + len(a.end)])
            for line in a.exact:
                if squash(line) not in proper:
                    raise Redraw(f"{p.name} {a.key}: spread line {line!r} outside the text proper")


class Deck:
    """Deals the articles in shuffled rounds, so each is used about as often as any other."""

    def __init__(self, keys: list[str], rng: random.Random) -> None:
        self.keys = keys
        self.rng = rng
        self.cards: list[str] = []

    def deal(self, count: int, fits: Callable[[str], bool]) -> list[str]:
        """``count`` distinct articles that fit the page, the earliest in the deck first."""
        hand: list[str] = []
        while True:
            for key in list(self.cards):
                if len(hand) < count and fits(key) and key not in hand:
                    hand.append(key)
                    self.cards.remove(key)
            if len(hand) == count:
                return hand
            fresh = list(self.keys)
            self.rng.shuffle(fresh)
            self.cards += fresh

    def give_back(self, hand: list[str]) -> None:
        self.cards[:0] = hand


# -- the page set --------------------------------------------------------------------------------


def generate(build: ModuleType, pages: int, seed: int) -> tuple[Made, dict[str, Any], int]:
    """``pages`` new pages with their keys and layouts; the count of pages drawn again."""
    remix = Remix(build, harvest(build))
    rng = random.Random(seed)
    deck = Deck(list(build.ART), rng)
    made: Made = []
    layouts: dict[str, dict[str, Any]] = {}
    redrawn = 0
    for number in range(1, pages + 1):
        name = f"r{number:03d}"
        for _attempt in range(50):
            layout = draw_layout(rng)
            hand = deck.deal(rng.randint(4, 8), functools.partial(remix.fits, layout=layout))
            rng.shuffle(hand)
            try:
                page, gold = remix.page(name, hand, layout, rng)
            except Redraw:
                deck.give_back(hand)
                redrawn += 1
                continue
            made.append((page, gold))
            layouts[name] = {"features": features(layout, page), "layout": asdict(layout)}
            break
        else:
            sys.exit(f"parse_remix: no sound key for page {name} in 50 draws")
    return made, layouts, redrawn


def write(out: Path, made: Made, layouts: dict[str, Any]) -> None:
    """Pages in out/pages, keys in out/gold (the shared scorer's format), layouts in out/layouts.json."""
    for sub in ("pages", "gold"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    for page, gold in made:
        (out / "pages" / f"{page.name}.txt").write_text(page.text(), encoding="utf-8")
        (out / "gold" / f"{page.name}.json").write_text(
            json.dumps(gold, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    (out / "layouts.json").write_text(
        json.dumps(layouts, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )


def check_perfect(check_keys: ModuleType, scorer: Path, out: Path, made: Made) -> float:
    """check_keys.py's made-up prediction written from the keys, scored: anything below 1 is a broken key."""
    with patched(check_keys, PAGE_FUNCS=[lambda page=page: page for page, _ in made]):
        rows = check_keys.perfect()
    pred = out / "perfect.jsonl"
    pred.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return float(score(scorer, out / "gold", pred)["score"])


# -- parsing and scoring -------------------------------------------------------------------------


def predict(pages: Path, pred: Path, tree: Path | None) -> None:
    """Parse every page as ``digest parse --jsonl`` does, with the digest package importable here."""
    import digest
    from digest.paper.decode import decode_page
    from digest.paper.parse import parse_page
    from digest.paper.report import page_json

    origin = Path(digest.__file__).resolve().parents[1]
    if tree is not None and origin != tree.resolve():
        sys.exit(f"parse_remix: digest was imported from {origin}, not from {tree}")
    with pred.open("w", encoding="utf-8") as out:
        for path in sorted(pages.glob("*.txt")):
            page = parse_page(decode_page(path.read_bytes(), path.name), path.name)
            out.write(json.dumps(page_json(page), ensure_ascii=False) + "\n")


def predict_with(tree: Path, pages: Path, pred: Path) -> None:
    """Parse with the digest package of another checkout, in a process of its own."""
    env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
    command = [
        sys.executable,
        __file__,
        "--write-pred",
        str(pred),
        "--out",
        str(pages.parent),
        "--tree",
        str(tree),
    ]
    subprocess.run(command, env=env, check=True)


def score(scorer: Path, gold: Path, pred: Path, quiet: bool = True) -> dict[str, Any]:
    """The shared scorer's figures (and, unquiet, its page-by-page report under "report")."""
    figures = subprocess.run(
        [sys.executable, str(scorer), "--gold", str(gold), "--pred", str(pred), "--json", "--quiet"],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(figures.stdout)
    if not quiet:
        report = subprocess.run(
            [sys.executable, str(scorer), "--gold", str(gold), "--pred", str(pred)],
            capture_output=True,
            text=True,
            check=True,
        )
        result["report"] = report.stdout
    return result


def breakdown(scorer: Path, out: Path, layouts: dict[str, Any], preds: dict[str, Path]) -> list[str]:
    """One line per convention and value: its page count and each tree's score on those pages alone."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, info in sorted(layouts.items()):
        for feature, value in info["features"].items():
            groups.setdefault((feature, value), []).append(name)
    labels = list(preds)
    wide = [max(12, len(label)) for label in labels]
    lines = [
        f"{'convention':34s} {'pages':>5s}  "
        + "  ".join(f"{lb:>{w}s}" for lb, w in zip(labels, wide, strict=True))
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for (feature, value), names in sorted(groups.items()):
            subset = Path(tmp) / f"{len(lines)}"
            subset.mkdir()
            for name in names:
                (subset / f"{name}.json").symlink_to(out / "gold" / f"{name}.json")
            scores = [score(scorer, subset, preds[label])["score"] for label in labels]
            lines.append(
                f"{feature + ': ' + value:34s} {len(names):5d}  "
                + "  ".join(f"{s:{w}.3f}" for s, w in zip(scores, wide, strict=True))
            )
    return lines


def tree_label(tree: Path, taken: set[str]) -> str:
    """The checkout's folder name and commit, unique among the trees compared."""
    commit = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    label = tree.resolve().name + (f"@{commit}" if commit else "")
    while label in taken:
        label += "'"
    taken.add(label)
    return label


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=60, help="pages to lay out (default 60)")
    parser.add_argument("--seed", type=int, default=1, help="the draw; the same seed gives the same pages")
    parser.add_argument("--out", type=Path, help="folder for pages/, gold/, layouts.json and predictions")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="the shared folder (dev/, eval/)")
    parser.add_argument(
        "--tree",
        type=Path,
        action="append",
        help="parse with the digest package of this checkout (repeatable)",
    )
    parser.add_argument("--no-parse", action="store_true", help="only write the pages and keys")
    parser.add_argument(
        "--parse-only", action="store_true", help="parse and score the pages already in --out"
    )
    parser.add_argument("--as-dev", action="store_true", help="lay out the ten development pages themselves")
    parser.add_argument("--failures", action="store_true", help="print the scorer's page-by-page report")
    parser.add_argument("--write-pred", type=Path, help=argparse.SUPPRESS)  # the child process of --tree
    args = parser.parse_args()

    if args.write_pred:
        predict(args.out / "pages", args.write_pred, args.tree[0] if args.tree else None)
        return 0
    scorer = args.shared / "eval" / "score_parse.py"
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="remix-"))
    if not args.parse_only:
        build, check_keys = load_build(args.shared)
        if args.as_dev:
            made = [(p, p.gold()) for p in (f() for f in build.PAGE_FUNCS)]
            layouts = {p.name: {"features": {"page": p.name}} for p, _ in made}
            redrawn = 0
        else:
            made, layouts, redrawn = generate(build, args.pages, args.seed)
        write(out, made, layouts)
        perfect = check_perfect(check_keys, scorer, out, made)
        articles = sum(len(g["articles"]) for _, g in made)
        what = "the development pages" if args.as_dev else f"seed {args.seed}, {redrawn} drawn again"
        print(f"{len(made)} pages ({what}), {articles} articles in {out}")
        print(f"keys checked; a prediction written from them scores {perfect:.3f}")
        if args.as_dev:
            dev = args.shared / "dev"
            same = sum(
                (out / "pages" / f"{p.name}.txt").read_bytes()
                == (dev / "pages" / f"{p.name}.txt").read_bytes()
                and json.loads((dev / "gold" / f"{p.name}.json").read_text(encoding="utf-8")) == g
                for p, g in made
            )
            print(f"{same} of {len(made)} pages and keys identical to {dev}")
        if perfect < 0.9999:
            return 1
        if args.no_parse:
            return 0
    if not (out / "layouts.json").is_file():
        sys.exit(f"parse_remix: no pages in {out}; run without --parse-only first")
    layouts = json.loads((out / "layouts.json").read_text(encoding="utf-8"))
    preds: dict[str, Path] = {}
    if args.tree:
        taken: set[str] = set()
        for tree in args.tree:
            label = tree_label(tree, taken)
            preds[label] = out / f"pred-{label}.jsonl"
            predict_with(tree, out / "pages", preds[label])
    else:
        sys.path.insert(0, str(ROOT))
        label = tree_label(ROOT, set())
        preds[label] = out / f"pred-{label}.jsonl"
        predict(out / "pages", preds[label], ROOT)
    for label, pred in preds.items():
        figures = score(scorer, out / "gold", pred, quiet=not args.failures)
        report = figures.pop("report", "")
        if report:
            print(report.rstrip())
        total = figures.pop("score")
        print(f"{label}: " + "  ".join(f"{k} {v:.3f}" for k, v in figures.items()) + f"  score: {total:.3f}")
    print()
    print("\n".join(breakdown(scorer, out, layouts, preds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
