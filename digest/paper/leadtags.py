"""The credit and dateline Taiwan's and Hong Kong's papers print before a lead, in their own shapes.

Mainland dailies open a story with ``本报讯（记者 X）`` or ``新华社北京3月5日电``; Taiwan's papers put
the reporter and the place where the story was filed in brackets, parted by a slash and closed by
报导 (``【记者王明／台北报导】``, ``〔记者王明／台北报导〕``, or the same unbracketed on a line of its
own or before a space), a news desk or the wires in place of a reporter (``〔国际新闻中心／综合报导〕``,
``（综合外电报导）``), and the Central News Agency glues the reporter between its name and the place
(``（中央社记者王明台北5日电）``).  Hong Kong's papers tag a lead with their outlet in brackets
(``【本报讯】``, ``【港湾专讯】``).  The text is read folded to simplified characters
(``digest.paper.variants``).  Pure functions over text: ``digest.paper.bylines`` reads the credits.
"""

from __future__ import annotations

import re

from digest.paper.textnorm import CJK
from digest.paper.variants import TO_SIMPLIFIED

_CLOSING = {"【": "】", "〔": "〕", "［": "］", "[": "]", "（": "）", "(": ")"}
# A lead's tag: a bracket opening the paragraph and the one closing it, nothing bracketed inside.
_TAG = re.compile(r"^([【〔［\[（(])([^【】〔〕［］\[\]（）()\n]{2,40})([】〕］\]）)])\s*")
# The part after the slash (or the whole tag): the place the story was filed from, or 综合 (the desk
# put it together from several sources) and 外电 (from the wires), closed by 报导 or 报道.
_FILED = re.compile(f"^(?P<place>[{CJK}]{{0,6}}?)(?P<desk>综合(?:外电)?)?报[导道]$")
_SLASH = re.compile(r"\s*[/／]\s*")
# The Central News Agency's form: the agency, a role, names glued to the place, a date, 电.
_AGENCY = re.compile(
    f"^(?P<names>[{CJK}、]{{4,30}}?)(?P<date>(?:\\d{{1,2}}\\s*月\\s*)?\\d{{1,2}}\\s*日\\s*专?电)$"
)
_WIDE = str.maketrans(")]", "）］")
# Unbracketed, the credit and its place must carry the slash: 记者王明／台北报导, then a space or the end.
_UNBRACKETED = re.compile(r"^([^\s/／，。；：:]{2,30}\s*[/／]\s*[^\s/／，。；：:]{0,8}报[导道])(?:\s+|$)")
_MIN_PLACE = 2  # characters of a place name (台北, 华盛顿)
_NAME = 3  # characters of most Han names: a name glued to an unknown place is read as three when it can be
_NAMES = range(2, 5)  # characters of a Han name glued to a known place: 许文, 郑雅琳, 欧阳晓东
# The places the Central News Agency files from most: Taiwan's cities and counties and its outlying
# islands, and the cities abroad where it keeps correspondents or that news comes from most, in the
# names Taiwan gives them (雪梨, 休士顿, 杜拜), written in simplified characters.  A name glued to one
# of these is cut where the place begins; any other place is guessed (see ``agency_reporters``).
_PLACE_NAMES = (
    "台北", "新北", "桃园", "台中", "台南", "高雄", "基隆", "新竹", "苗栗", "彰化", "南投", "云林",
    "嘉义", "屏东", "宜兰", "花莲", "台东", "澎湖", "金门", "马祖", "连江", "绿岛", "兰屿", "北京",
    "上海", "广州", "深圳", "厦门", "香港", "澳门", "东京", "大阪", "福冈", "冲绳", "首尔", "釜山",
    "新加坡", "吉隆坡", "曼谷", "雅加达", "马尼拉", "河内", "胡志明市", "仰光", "金边", "新德里", "雪梨",
    "墨尔本", "奥克兰", "华盛顿", "纽约", "洛杉矶", "旧金山", "芝加哥", "休士顿", "波士顿", "西雅图",
    "檀香山", "温哥华", "多伦多", "伦敦", "巴黎", "柏林", "罗马", "马德里", "布鲁塞尔", "日内瓦",
    "维也纳", "华沙", "基辅", "莫斯科", "伊斯坦堡", "杜拜", "耶路撒冷", "开罗", "约翰尼斯堡", "圣保罗",
    "墨西哥市", "联合国", "梵蒂冈",
)  # fmt: skip
_PLACES = frozenset(_PLACE_NAMES)
# The traditional forms of the places' characters that ``variants.TO_SIMPLIFIED`` leaves out: a page
# is folded by that table only, so 宜蘭 and 華盛頓 reach here as 宜蘭 and 华盛頓.
_PLACE_TRADITIONAL = "園雲義蘭蓮綠嶼廈岡沖繩爾奧達內邊倫羅魯納輔聖磯溫紐頓舊"
_PLACE_SIMPLIFIED = "园云义兰莲绿屿厦冈冲绳尔奥达内边伦罗鲁纳辅圣矶温纽顿旧"
_PLACE_FOLD = str.maketrans(
    {**TO_SIMPLIFIED, **dict(zip(_PLACE_TRADITIONAL, _PLACE_SIMPLIFIED, strict=True))}
)


def bracketed(text: str) -> tuple[str, int] | None:
    """The words inside a tag opening ``text`` and the characters the tag takes with the space after it."""
    match = _TAG.match(text)
    # a half-width bracket may close a full-width one, as typed text mixes them: (記者王明／台北報導）
    if not match or _CLOSING[match.group(1)].translate(_WIDE) != match.group(3).translate(_WIDE):
        return None
    return match.group(2).strip(), match.end()


def unbracketed(text: str) -> tuple[str, int] | None:
    """An unbracketed credit with its place (``记者王明／台北报导``) opening ``text``, alone on its line
    or parted from the text by a space: its words and the characters it takes."""
    match = _UNBRACKETED.match(text)
    return (match.group(1), match.end()) if match else None


def filed(words: str) -> tuple[str, str | None] | None:
    """``记者王明／台北报导`` → (``记者王明``, ``台北``); ``综合外电报导`` → ("", None); None for other words.
    Without a slash the words before 报导 are the credit (本报记者王明报道) unless they name the desk."""
    if not words.endswith(("报导", "报道")):
        return None
    parts = _SLASH.split(words, maxsplit=1)
    if len(parts) == 2:
        who, rest = parts
        found = _FILED.match(rest)
        if not found or not who:
            return None
        return who, found.group("place") or None
    found = _FILED.match(words)
    if found and (found.group("desk") or not found.group("place")):
        return "", None
    return words[:-2].strip(), None


def agency_reporters(words: str) -> tuple[str, str, str] | None:
    """``王明、李华台北5日电`` after an agency and a role: (``王明、李华``, ``台北``, ``5日电``).
    The last name runs into the place with nothing between: it ends where a known place begins
    (``李华华盛顿``, ``欧阳晓东台北``), the longest that leaves a name of two to four characters;
    before any other place it is taken as three characters when the place keeps two, else two
    (Han names are mostly three characters, places two or more)."""
    match = _AGENCY.match(words)
    if not match:
        return None
    *names, last = match.group("names").split("、")
    cut = _known_place(last)
    if cut is None:
        cut = _NAME if len(last) - _NAME >= _MIN_PLACE else _NAME - 1
    if len(last) - cut < _MIN_PLACE or any(len(name) < _NAME - 1 for name in names):
        return None
    return "、".join([*names, last[:cut]]), last[cut:], match.group("date")


def _known_place(glued: str) -> int | None:
    """Where the longest known place closing a name glued to it begins, or None."""
    folded = glued.translate(_PLACE_FOLD)
    cuts = [len(glued) - len(place) for place in _PLACES if folded.endswith(place)]
    return min((cut for cut in cuts if cut in _NAMES), default=None)


def source_alone(text: str, not_a_name: re.Pattern[str]) -> bool:
    """A line that is only a bracketed source or desk (``（新华社电）``, ``（据新华社）``, ``（本报综合）``,
    ``（综合外电报导）``): ``not_a_name`` is the conventions' pattern of words that name no one."""
    tag = bracketed(text)
    return tag is not None and tag[1] >= len(text.rstrip()) and bool(not_a_name.search(tag[0]))
