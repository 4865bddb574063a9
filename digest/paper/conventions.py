"""How a newspaper prints credits, datelines, places and sections: the parser's lexicons as data.

One frozen ``Conventions`` value is passed into ``parse_page``.  The built-in
``MAINLAND`` covers mainland Chinese dailies in general; a paper whose
conventions differ adds words through the ``[parser]`` table of
``config.toml`` (``Conventions.extended``).  Nothing here names one paper,
one person or one page: the words are the trade's vocabulary.

The byline grammar built on these words (``digest.paper.bylines``) reads a role by
its position as well as by this list: a word glued to ``记者`` or ``通讯员`` at
the start of a credit is the outlet (长城网记者, 随州日报全媒记者), so the
role list holds the roles, never the outlets.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, replace
from functools import cache, cached_property

from digest.config import ParserConfig
from digest.paper.textnorm import CJK
from digest.paper.variants import fold_word


@dataclass(frozen=True)
class Conventions:
    """The words the parser reads a page by; every field a tuple so the value can be hashed."""

    # Who wrote or shot a story (本报 and a rank may stand before them: 本报见习记者, 首席记者).
    roles: tuple[str, ...] = (
        "记者", "通讯员", "实习生", "见习生", "摄影记者", "摄影", "拍友", "读者", "作者", "拍摄者",
        "撰稿", "撰文", "文字", "主笔", "供图", "整理", "评论员", "编译",
        # An infographic's makers are credited like its authors.
        "文案", "设计", "监制", "制图", "统筹", "策划",
    )  # fmt: skip
    # Roles that credit only when set apart from what follows them (视觉 林雨晴, 视觉：陈晨, a photo
    # designer's credit): glued to the next words they open a phrase (视觉盛宴, 视觉冲击).
    spaced_roles: tuple[str, ...] = ("视觉",)
    # Words before a role that say which kind of reporter: 特约记者, 全媒体记者, 本报见习记者.
    ranks: tuple[str, ...] = (
        "本报", "本台", "本网", "本刊", "特约", "见习", "实习", "首席", "全媒体", "融媒体", "全媒",
        "融媒", "驻站", "驻地", "特派", "资深",
    )  # fmt: skip
    # Credits printed after a name: X 摄, X 文/图, X/摄, X 摄影报道.
    marks: tuple[str, ...] = ("摄影报道", "文/图", "图/文", "文图", "摄影", "摄", "报道", "/文", "/图", "/摄")
    # People credited for the page, not the story (editors are never authors).
    editors: tuple[str, ...] = (
        "责任编辑",
        "本版编辑",
        "本期编辑",
        "编辑",
        "责编",
        "美编",
        "校对",
        "检校",
        "审校",
        "版式设计",
        "版式",
        "排版",
        "组版",
        "美术编辑",
        "执行编辑",
    )
    # How an outlet's name ends, to tell 城市快报 in 城市快报记者 X from a reporter's name.
    outlet_endings: tuple[str, ...] = (
        "报", "网", "社", "台", "客户端", "中心", "新闻", "频道", "传媒", "杂志",
    )  # fmt: skip
    # Outlets that open a dateline without a date or a space after them (本报讯近日…).
    outlets: tuple[str, ...] = (
        "本报", "本台", "本网", "本刊", "新华社", "中新社", "中新网", "人民日报",
        # The news agencies of Taiwan and abroad, as Chinese papers name them.
        "中央社", "法新社", "路透社", "美联社", "共同社", "韩联社", "塔斯社", "德新社", "安莎社",
    )  # fmt: skip
    # The word that closes a dateline: 本报讯, 新华社北京3月5日电, 汉网消息.
    dateline_words: tuple[str, ...] = ("讯", "电", "消息")
    # How the names of places end (海南区, 达拉特旗): a short line of this shape is a kicker.
    place_endings: tuple[str, ...] = (
        "区", "县", "旗", "盟", "市", "州", "镇", "乡", "村", "嘎查", "苏木", "街道",
    )  # fmt: skip
    # Words in brackets after a text that credit no one: (待续), （本报综合）, （据新华社电）.
    source_notes: tuple[str, ...] = ("待续", "未完待续", "全文完", "完", "综合", "编译", "转载", "据")
    # Columns of briefs, one article per item (■ …, △ …): 简讯, 三秦短波.
    roundups: tuple[str, ...] = ("简讯", "短讯", "快讯", "短波", "简报", "速览", "集锦")
    # Page names in a folio that are no section (第1版 is a number, not a name).
    non_sections: tuple[str, ...] = ("头版", "一版", "封面", "广告", "专版", "特刊")
    # How a sentence about the reporter goes on after 记者 (记者了解到, 记者昨日从市…获悉): words
    # no name starts with, so a role glued to them closes no story.
    reporting: tuple[str, ...] = (
        "了解", "获悉", "得知", "注意", "看到", "见到", "发现", "追问", "询问", "问", "采访", "走访",
        "探访", "来到", "赶到", "前往", "随机", "实地", "调查", "观察", "联系", "致电", "拨打", "跟随",
        "一行", "在", "从", "对",
    )  # fmt: skip
    # Times that go on after 记者 as reporting words do (记者昨日从市…获悉), but open sentences of
    # their own as often (近日，…): no sign that a block after a break goes on with the one above.
    reporting_times: tuple[str, ...] = ("昨日", "今日", "近日", "日前", "昨天", "今天", "当天")
    # Roles an outlet signs with and no name (本报评论员, 新华社评论员): its editorials' voice.
    unsigned_roles: tuple[str, ...] = ("评论员",)
    # Surnames of two characters (欧阳晓东, 司马南): a name glued to a role may then have four.
    compound_surnames: tuple[str, ...] = (
        "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文",
        "司徒", "夏侯", "端木", "独孤", "南宫", "西门", "轩辕", "呼延", "澹台", "申屠", "万俟", "钟离",
    )  # fmt: skip

    def extended(self, **more: tuple[str, ...]) -> Conventions:
        """These conventions with more words added to the named fields (duplicates kept once)."""
        changes = {}
        for name, words in more.items():
            current: tuple[str, ...] = getattr(self, name)
            changes[name] = tuple(dict.fromkeys((*current, *words)))
        return replace(self, **changes)

    def __hash__(self) -> int:
        """The hash of every field, computed once: ``bylines._read``'s cache hashes this value for
        every line it is asked about, and the generated hash walked every word each time."""
        return self._hash

    @cached_property
    def _hash(self) -> int:
        return hash(tuple(getattr(self, f.name) for f in dataclasses.fields(self)))

    def __getstate__(self) -> dict[str, object]:
        """The state a worker process receives, without the hash: string hashes differ between
        processes (a forkserver's workers), so each one computes its own."""
        return {name: value for name, value in self.__dict__.items() if name != "_hash"}

    # Compiled forms, built once per value (a frozen dataclass still has a __dict__ for these).

    @cached_property
    def role_pattern(self) -> str:
        """A role with its optional ranks: 记者, 本报记者, 本报见习记者, 全媒体记者, 实习生."""
        ranks = _alternation(self.ranks)
        # Ranks alone (本报：X) and the spaced roles (视觉 X) are roles only where a separator follows.
        apart = [f"(?:{ranks})+"]
        if self.spaced_roles:
            apart.append(f"(?:{ranks})*(?:{_alternation(self.spaced_roles)})")
        return f"(?:(?:{ranks})*(?:{_alternation(self.roles)})|(?:{'|'.join(apart)})(?=[:：/ ]|$))"

    @cached_property
    def role_split(self) -> re.Pattern[str]:
        """Splits a credit token at role words and at editor words, keeping them."""
        # Long marks first: 摄影报道 is one mark, not the role 摄影 and a word 报道.
        long_marks = _alternation(tuple(m for m in self.marks if len(m) >= 3 and not m.startswith("/")))
        # 文/ and 图/ glued to the name or role after them (文/李华, 图/本报记者 王明) credit as roles do.
        return re.compile(f"({long_marks}|{_LEAD_MARK}|{self.role_pattern}|{_alternation(self.editors)})")

    @cached_property
    def role_only(self) -> re.Pattern[str]:
        """A whole token that is a role and nothing else."""
        return re.compile(f"^(?:{self.role_pattern})[:：/]?$")

    @cached_property
    def credit_hint(self) -> re.Pattern[str]:
        """Any word a credit line carries (a fast test before the grammar is tried)."""
        words = _alternation((*self.roles, *self.spaced_roles, *self.ranks, *self.marks, *self.editors))
        return re.compile(f"{words}|{_LEAD_MARK}|^[（(□■]|^[{CJK}] [{CJK}]$")

    @cached_property
    def glued_role(self) -> re.Pattern[str]:
        """A role glued to the Chinese words after it, no space between (记者追问, 记者甲乙)."""
        return re.compile(f"(?:{self.role_pattern})[{CJK}]+")

    @cached_property
    def reporting_start(self) -> re.Pattern[str]:
        """Words after a role that go on with a sentence about the reporter (追问, 了解到, 昨日从市)."""
        return re.compile(f"^(?:{_alternation((*self.reporting, *self.reporting_times))})")

    @cached_property
    def unsigned(self) -> re.Pattern[str]:
        """A whole byline of an unsigned role, after its outlet or ranks: 本报特约评论员, 新华社评论员."""
        outlet = f"[{CJK}·]{{1,12}}?(?:{_alternation(self.outlet_endings)})"
        ranks = _alternation(self.ranks)
        return re.compile(f"^(?:{outlet})?(?:{ranks})*(?:{_alternation(self.unsigned_roles)})$")

    @cached_property
    def role_words_end(self) -> re.Pattern[str]:
        """Text ending in a role and the few words glued after it (…。记者从市 → 从市)."""
        return re.compile(f"(?:{self.role_pattern})([{CJK}]{{1,4}})$")

    @cached_property
    def role_end(self) -> re.Pattern[str]:
        """Text ending in a role, whose name the next line carries (…本报记者 / 黄兴能 摄)."""
        return re.compile(f"(?:{self.role_pattern})$")

    @cached_property
    def editor_only(self) -> re.Pattern[str]:
        """A whole token that is an editor's title."""
        return re.compile(f"^(?:{_alternation(self.editors)})[:：/]?$")

    @cached_property
    def mark_suffix(self) -> re.Pattern[str]:
        """A credit mark glued after a name: 王林山/摄, 刘洪摄影报道, 肖春道文/图."""
        # 报道 glued to a word is that word's (图片报道), so only a spaced 报道 is a mark.
        return re.compile(f"(?:{_alternation(tuple(m for m in self.marks if m != '报道'))})$")

    @cached_property
    def mark_only(self) -> re.Pattern[str]:
        """A whole token that is a credit mark."""
        # 图/ before a role (图/记者：X) is the mark for what follows.
        return re.compile(f"^(?:/?(?:{_alternation(self.marks)})|{_LEAD_MARK})$")

    @cached_property
    def not_a_name(self) -> re.Pattern[str]:
        """A word where a name would stand that is a source or a note: 据新华社, 本报综合, 待续."""
        notes = _alternation(self.source_notes)
        ends = _alternation((*self.outlet_endings, *self.dateline_words))
        return re.compile(f"^(?:{notes})|(?:{notes})$|{_alternation(self.outlets)}|(?:{ends})$")

    @cached_property
    def outlet_end(self) -> re.Pattern[str]:
        """An outlet's name: ends as outlets do (城市快报, 长城网) or carries a dot (齐鲁晚报·齐鲁壹点)."""
        return re.compile(f"(?:{_alternation(self.outlet_endings)})$|[·•A-Za-z]")

    @cached_property
    def dateline(self) -> re.Pattern[str]:
        """A dateline opening a paragraph: outlet, place, date, the closing word, a credit in brackets."""
        known = _alternation(self.outlets)
        words = _alternation(self.dateline_words)
        # An outlet's name has two characters at least: 又讯 adds an item to the story above.
        outlet = f"(?:{known})|[{CJK}·A-Za-z]{{2,12}}?(?:{_alternation(self.outlet_endings)})?"
        return re.compile(
            rf"^(?P<from>据)?(?P<outlet>{outlet})"
            rf"(?P<place>[{CJK}]{{0,8}}?)\s*"
            # a year before the month (新华社北京2026年12月2日电) is printed by some papers
            r"(?:20\d\d\s*年\s*(?=\d{1,2}\s*月))?"
            r"(?:(?P<month>\d{1,2})\s*月\s*)?(?:(?P<day>\d{1,2})\s*日\s*)?"
            rf"专?(?P<word>{words})(?![员话视影力脑子商网站池动息费器])\s*"
            r"(?:[（(](?P<credits>[^（）()]{1,60})[）)])?\s*"
        )

    @cached_property
    def agency_role(self) -> re.Pattern[str]:
        """A known outlet and a role glued after it, as a news agency credits its reporter before the
        place (中央社记者王明台北5日电)."""
        return re.compile(f"^(?P<outlet>{_alternation(self.outlets)})(?P<role>{self.role_pattern})")

    @cached_property
    def dateline_word(self) -> re.Pattern[str]:
        """Any word that closes a dateline (a fast test before the dateline's pattern is tried)."""
        return re.compile(_alternation(self.dateline_words))

    @cached_property
    def known_outlet(self) -> re.Pattern[str]:
        """One of the outlets that may open a dateline with nothing but its word (本报讯近日…)."""
        return re.compile(f"^(?:{_alternation(self.outlets)})$")

    @cached_property
    def place(self) -> re.Pattern[str]:
        """A place name standing alone (海南区, 达拉特旗)."""
        return re.compile(f"^[{CJK}]{{2,12}}(?:{_alternation(self.place_endings)})$")


# A mark printed before the names it credits: 文/李华, 图／王明, 摄 / 周远.
_LEAD_MARK = r"[文图摄]\s*[/／]"


def _alternation(words: tuple[str, ...]) -> str:
    """A regex alternation of words, longest first so 本报记者 wins over 记者."""
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


MAINLAND = Conventions()
"""The built-in conventions: mainland dailies, agencies and their news sites."""


@cache
def conventions_for(parser: ParserConfig) -> Conventions:
    """The built-in conventions with the words of a ``[parser]`` table added (one value per table,
    so its compiled patterns are built once)."""
    # A word written in traditional characters (播報員) is also known in the simplified form a page in
    # traditional characters is read in (``digest.paper.variants``).
    more = {
        f.name: tuple(
            form for word in getattr(parser, f.name) for form in dict.fromkeys((word, fold_word(word)))
        )
        for f in dataclasses.fields(parser)
        if getattr(parser, f.name)
    }
    return MAINLAND.extended(**more) if more else MAINLAND
