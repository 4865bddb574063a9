"""Traditional characters and their simplified forms: how a page printed in traditional characters
(Hong Kong, Taiwan, Macau: 本報訊, 記者, 編者按, 責任編輯, 下轉第6版) is read by a parser whose words are
written in simplified ones, and what the commonest characters of each script are.

The parser reads a traditional page through a ``Folding``: the page's traditional characters are
folded to their simplified forms for the parse, and every text the parse yields is unfolded back, so
articles keep the characters the paper printed.  A folding is one-to-one on its page (a character
pair is left alone where the page holds both forms, or two traditional forms of one simplified
character), so unfolding gives back exactly what was printed.  A simplified page, or one with a few
traditional characters in names or quotations, is read as it is.

A section's name is compared in simplified characters too (``simplified``): 經濟 printed on a Big5 page
and 经济 on the others are one section, with one feed and one page (``SectionRepository.filed_sections``).

``TO_SIMPLIFIED`` lists the characters of the parser's own words (``digest.paper.conventions`` and
the patterns of the other modules) and the commonest characters of news text, each with a
traditional form that simplified text never uses; characters written alike in both scripts (的, 版,
者) need no entry.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import TypeVar, cast

from digest.language import opencc_convert

# Pairs of a traditional character and its simplified form (說 and Hong Kong's 説 both fold to 说).
_PAIRS = (
    "萬万與与專专東东個个爲为為为習习鄉乡於于億亿從从傳传體体農农劃划辦办動动區区華华歷历縣县發发臺台"
    "後后噸吨員员圖图頭头獎奖孫孙實实審审宮宫對对將将並并廣广當当戶户執执掃扫報报撥拨據据攝摄數数時时"
    "術术機机雜杂條条來来檢检歐欧點点獨独現现電电監监碼码禮礼離离筆笔籌筹簡简緊紧約约紙纸線线綫线組组"
    "統统續续維维綜综編编網网聯联腦脑蘇苏獲获見见觀观視视覽览覺觉計计訊讯記记論论設设訪访評评譯译話话"
    "詢询詳详語语說说説说諸诸讀读調调談谈謝谢責责費费資资趕赶軒轩轉转載载輯辑轅辕連连遲迟採采鍾钟錦锦"
    "鎮镇長长門门問问間间聞闻陽阳隨随頻频題题馬马駐驻這这們们國国會会過过裏里裡里種种經经麼么學学沒没"
    "還还進进樣样開开導导"
)
TO_SIMPLIFIED: dict[str, str] = {_PAIRS[at]: _PAIRS[at + 1] for at in range(0, len(_PAIRS), 2)}
_SIMPLIFIED = frozenset(TO_SIMPLIFIED.values())
_TRADITIONAL = re.compile(f"[{''.join(TO_SIMPLIFIED)}]")

# The hundred commonest characters of Chinese text, in simplified form; ``COMMON_TRADITIONAL`` has the
# same in traditional form.  A misread legacy file (GBK bytes read as Big5, or Big5 as GB18030) holds
# almost none of them: one in a hundred characters of either script is one of these few.
COMMON_SIMPLIFIED = frozenset(
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后"
    "作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因"
    "只从想实"
)
COMMON_TRADITIONAL = frozenset(
    {traditional for traditional, simplified in TO_SIMPLIFIED.items() if simplified in COMMON_SIMPLIFIED}
    | {char for char in COMMON_SIMPLIFIED if char not in _SIMPLIFIED}
    | {"著"}  # the particle 着, which traditional text writes as 著 (a simplified character too)
)

_T = TypeVar("_T")


@dataclass(frozen=True)
class Folding:
    """One page's traditional characters ↔ their simplified forms, one-to-one on that page."""

    fold_table: dict[int, str]
    unfold_table: dict[int, str]

    @classmethod
    def of(cls, text: str) -> Folding | None:
        """The folding a page in traditional characters is read through; None for any other page."""
        if not _TRADITIONAL.search(text):
            return None
        counts = Counter(char for char in text if char in TO_SIMPLIFIED or char in _SIMPLIFIED)
        traditional = [char for char in counts if char in TO_SIMPLIFIED]
        if sum(counts[char] for char in traditional) <= sum(counts[c] for c in counts if c in _SIMPLIFIED):
            return None  # a simplified page quoting a few traditional characters
        forms = Counter(TO_SIMPLIFIED[char] for char in traditional)
        pairs = {
            char: TO_SIMPLIFIED[char]
            for char in traditional
            if forms[TO_SIMPLIFIED[char]] == 1 and TO_SIMPLIFIED[char] not in counts
        }
        if not pairs:
            return None
        return cls(str.maketrans(pairs), {ord(s): t for t, s in pairs.items()})

    def fold(self, text: str) -> str:
        """``text`` with the page's traditional characters in simplified form."""
        return text.translate(self.fold_table)

    def unfold(self, value: _T) -> _T:
        """``value`` (a text, a tuple or a dataclass of them, as the parser returns) as printed."""
        if isinstance(value, Enum):
            return value
        if isinstance(value, str):
            return cast(_T, value.translate(self.unfold_table))
        if isinstance(value, tuple):
            return cast(_T, tuple(self.unfold(item) for item in value))
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            fields = {f.name: self.unfold(getattr(value, f.name)) for f in dataclasses.fields(value)}
            return cast(_T, dataclasses.replace(value, **fields))
        return value


def fold_word(word: str) -> str:
    """A word of the ``[parser]`` table in the simplified form a folded page shows it in."""
    return "".join(TO_SIMPLIFIED.get(char, char) for char in word)


# The characters of GB2312 (the simplified character set) that OpenCC's t2s still rewrites: rare
# traditional or variant forms GB2312 also holds (後, 於, 徵...).  tests/test_section_forms.py checks the
# list against OpenCC's table, character by character.
T2S_IN_GB2312 = frozenset("乾菸薹拚捱摺吒後徵夥榘於袷麴醣麽")


# A paper has a few dozen section names, met on every article of every page read.
@lru_cache(maxsize=4096)
def simplified(text: str) -> str:
    """``text`` in simplified characters, by OpenCC's full table (``TO_SIMPLIFIED`` holds only the
    parser's words and the commonest characters: 濟 of 經濟 is not among them)."""
    if _simplified_already(text):
        return text  # a simplified paper's build never loads OpenCC's tables (about 20 ms a process)
    return opencc_convert(text, "t2s.json")


def _simplified_already(text: str) -> bool:
    try:
        text.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return T2S_IN_GB2312.isdisjoint(text)


def script_first(names: Sequence[str], traditional: bool) -> list[str]:
    """``names`` with those written in traditional characters first (``traditional``), else those
    written in simplified ones, each kept in its order: of two forms of one section name met at once,
    the one first in the list names the section."""
    return sorted(names, key=lambda name: (simplified(name) == name) is traditional)
