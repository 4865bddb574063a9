"""Character- and line-level repairs of OCR'd page text.  Pure functions.

These undo what print layout and text extraction do to Chinese text: hard
line wraps, justification spaces between characters, text set vertically one
character a line, doubled running heads and stray control characters.
"""

from __future__ import annotations

import re
import unicodedata

from digest.chars import PAGE_JUNK

CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Quotation marks: the mainland's “”, and the 「」 (『』 inside them) of Taiwan, Hong Kong and Macau.
OPENING_QUOTES = "“「『"
CLOSING_QUOTES = "”」』"
_CJK_CHAR = re.compile(f"[{CJK}]")
_CJK_RUN = re.compile(f"[{CJK}]{{2,}}")

# Characters that end a sentence; closing quotes and brackets may follow them.  Read from the
# line's end back (a search anchored at the end would try every position of a long line).
_SENTENCE_MARKS = frozenset("。！？!?…")
_CLOSERS = "”’」』）)》〉]】\"'"
# A layout code printed after the last sentence (…伟大！”②9: a circled number, digits after it) ends it too.
_CODE_MARKS = frozenset(chr(c) for c in range(0x2460, 0x2474))
_CODE_DIGITS = 3
# Wrapped lines carry no punctuation of their own at the break.
_OPEN_ENDS = frozenset("，、；：,;:（(“‘「『《〈【—")

_SPACES = re.compile("[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_EDGE_SPACES = re.compile("^ | $", re.MULTILINE)
_SPACE_CHARS = " \t\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_TRAILING_SPACE = re.compile(f"[{_SPACE_CHARS}]$", re.MULTILINE)
_LEADING_SPACES = re.compile("^[ \u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_LEADING_SPACES_ANYWHERE = re.compile(_LEADING_SPACES.pattern, re.MULTILINE)  # at any line's start
_INDENT_WIDTH = 4  # display columns: a paragraph's first line is indented by two characters

# A run of CJK characters each followed by one space: "本 期 读 书 会".  Justification spaces
# every glyph of a line alike, so half-width marks (年 , 市), a lone Latin letter (G 2 0), the
# digits and point of a number (2 3 . 9 3 %) and dashes or dots are cells of the run too; a
# Latin word is not (its letters are never spaced apart this way, and English keeps its spaces).
_SPACED_TOKEN = (
    f"(?:[{CJK}“”‘’（）《》「」『』，、。！？：；…—·%,.;:?!()]|[0-9]+|(?<![A-Za-z])[A-Za-z](?![A-Za-z]))"
)
_LATIN_LETTER = re.compile("[A-Za-z]")
_SPACED_RUN = re.compile(f"(?:{_SPACED_TOKEN} ){{3,}}{_SPACED_TOKEN}")
_SPACE_BEFORE_LATIN = re.compile(
    f"(?<=[{CJK}，。、；：（）{OPENING_QUOTES}{CLOSING_QUOTES}]) (?=[0-9A-Za-z])"
)
_SPACE_AFTER_LATIN = re.compile(
    f"(?<=[0-9A-Za-z%]) (?=[{CJK}，。、；：（）{OPENING_QUOTES}{CLOSING_QUOTES}])"
)

# Half-width punctuation touching Chinese text (three of five dumps use it): the full-width
# forms take a character's width, as typesetting in Chinese does (GB/T 15834-2011).
_HALF_AFTER = f"[{CJK}”’」』）》]"
_HALF_BEFORE = f"[{CJK}“‘「『（《]"
# A space typed after a half-width mark goes with it: the full-width form holds its own.
_HALF_MARKS = re.compile(f"(?<={_HALF_AFTER})([,:;?!]) ?|([,:;]) ?(?={_HALF_BEFORE})")
_FULL = str.maketrans({",": "，", ":": "：", ";": "；", "?": "？", "!": "！", "(": "（", ")": "）"})
_HALF_PARENS = re.compile(r"\(([^()\n]{0,80})\)")

# A space beside a full-width mark (翟某： 纵深推进…): the mark holds a character's width of
# its own, so a space there is layout, never meaning.  A space after a closing quote or bracket
# may part two phrases (“双碳”之路 行稳致远 is rare; 《X》 Y is common) and stays.
_SPACE_BY_FULL_MARK = re.compile("(?<=[：，、；。！？（《“‘「『【〔]) +| +(?=[：，、；。！？）》”’」』】〕])")

_VERTICAL_MARK = re.compile("[﹃﹄﹁﹂]")
_VERTICAL_QUOTES = str.maketrans({"﹃": "“", "﹄": "”", "﹁": "‘", "﹂": "’"})


def clean_text(text: str) -> str:
    """Normalise newlines and drop characters no reader should see.

    Control characters, non-characters and lone surrogates are removed (they
    break XML feeds); every kind of horizontal space becomes one ASCII space.
    """
    return _clean_visible(PAGE_JUNK.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))


def _clean_visible(text: str) -> str:
    """``clean_text`` of a text already rid of ``PAGE_JUNK``, its newlines normalised."""
    text = unicodedata.normalize("NFC", text)
    return _EDGE_SPACES.sub("", _SPACES.sub(" ", text))


def clean_lines(text: str, credit: re.Pattern[str]) -> list[tuple[str, bool]]:
    """The page's lines as ``clean_text`` leaves them, each with whether it was indented.

    Chinese typesetting indents a paragraph's first line by two characters (``　　``); cleaning
    removes the indent, so it is noted here first, while a line break still tells where it was.
    ``credit`` finds the words of a credit (记者, 摄): a line wrapped inside a credit keeps the
    space that parts two names (``_keep_parting_space``).
    """
    visible = PAGE_JUNK.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = _clean_visible(visible).split("\n")
    leading = _LEADING_SPACES_ANYWHERE.search(visible) is not None
    # A substring test, not a pattern over the page: most pages have no space at a wrap.
    if leading or any(space + "\n" in visible for space in _SPACE_CHARS):
        raw = visible.split("\n")
        lines = [
            _keep_parting_space(lines[i - 1] if i else "", line, raw[i], _next_text(raw, i), credit)
            for i, line in enumerate(lines)
        ]
    if not leading:
        return [(line, False) for line in lines]  # most pages: nothing indented, nothing to look at
    return list(zip(lines, map(_indented, visible.split("\n")), strict=True))


def _next_text(raw: list[str], i: int) -> str:
    """The line a line goes on with: the next one, or the one after a blank line (a column break)."""
    for nxt in raw[i + 1 : i + 3]:
        if nxt.strip():
            return nxt
    return ""


def _keep_parting_space(above: str, line: str, raw: str, nxt: str, credit: re.Pattern[str]) -> str:
    """A line wrapped inside a credit keeps the space that ends it or starts the next line: it
    parts the last name on this line from the first on the next, which would otherwise run
    together (刘旭王舒).  The credit is a bracketed one (（记者 刘旭 / 王舒）, its bracket opened on
    this line or the one ``above``), or one set apart after the text by a space (…报告。 本报记者刘旭
    / 王舒).  Other bracketed text (（以下简称 规上企 / 业）) has no such space to keep: a space at a
    wrap there is the export's, and so is one before the 等 that closes a list of names
    (（读者 王先生 / 等）)."""
    spaced = _TRAILING_SPACE.search(raw) or _LEADING_SPACES.match(nxt)
    if not spaced:
        return line
    nxt = nxt.strip()
    if _NAME_START.match(nxt) and _in_open_credit(f"{above}{line}", credit):
        return line + " "
    if _SHORT_NAME_START.match(nxt) and _closing_credit(line, credit):
        return line + " "
    return line


def _in_open_credit(text: str, credit: re.Pattern[str]) -> bool:
    """Does ``text`` end inside a bracket that holds a credit and a space?"""
    opened = max(text.rfind("（"), text.rfind("("))
    if opened < 0 or opened < max(text.rfind("）"), text.rfind(")")) or " " not in text[opened:]:
        return False
    return credit.search(text, opened) is not None


def _closing_credit(line: str, credit: re.Pattern[str]) -> bool:
    """Does ``line`` end with a credit unbracketed: the whole line, or set apart by a space after
    the text's last sentence (…报告。 本报记者刘旭)?"""
    tail = _AFTER_TEXT.split(line)[-1]
    if tail != line and not tail.startswith(" "):
        return False
    tail = tail.strip()
    return 0 < len(tail) <= _CLOSING_CREDIT and not _CLAUSE.search(tail) and credit.search(tail) is not None


_NAME_START = re.compile(f"(?!等)[{CJK}]{{2}}")
_SHORT_NAME_START = re.compile(f"[{CJK}]{{2,4}}(?:\\s|$|[摄/）)])")  # a name, then a space, a mark or the end
_AFTER_TEXT = re.compile("[。！？]")
_CLAUSE = re.compile(f"[，。、；：,;:{OPENING_QUOTES}{CLOSING_QUOTES}]")
_CLOSING_CREDIT = 20  # characters; an unbracketed credit after the text is never longer


def _indented(line: str) -> bool:
    spaces = _LEADING_SPACES.match(line)
    return spaces is not None and display_width(spaces.group()) >= _INDENT_WIDTH


def display_width(text: str) -> int:
    """Columns a line takes in print: Chinese characters and full-width forms count twice."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def has_cjk(text: str) -> bool:
    """True when the text holds at least one Chinese character."""
    return _CJK_CHAR.search(text) is not None


def ends_sentence(text: str) -> bool:
    """True when the text ends a sentence (。！？… possibly followed by closing quotes)."""
    text = text.rstrip()
    end = len(text)
    digits = end
    while digits > 0 and end - digits < _CODE_DIGITS and text[digits - 1].isdecimal():
        digits -= 1
    if digits > 0 and text[digits - 1] in _CODE_MARKS:
        end = digits - 1
    end = len(text[:end].rstrip(_CLOSERS))
    return end > 0 and text[end - 1] in _SENTENCE_MARKS


def ends_open(text: str) -> bool:
    """True when the text visibly stops mid-clause (comma, colon, opening quote...)."""
    return text.rstrip()[-1:] in _OPEN_ENDS


def join_wrapped(pieces: list[str]) -> str:
    """Join the pieces of one paragraph that line wraps or column breaks cut apart.

    Chinese needs no space at the joint; two Latin words do.  Digits on both sides are one
    number the wrap cut (``13`` / ``56亿元``, ``3月1`` / ``2日``): numbers set side by side in
    Chinese text are parted by a mark, never by a space alone.
    """
    out: list[str] = []
    for piece in pieces:
        if not piece:
            continue
        if (
            out
            and _latin(out[-1][-1])
            and _latin(piece[0])
            and not (out[-1][-1].isdigit() and piece[0].isdigit())
        ):
            out.append(" ")
        out.append(piece)
    return "".join(out)


def _latin(char: str) -> bool:
    return char.isascii() and char.isalnum()


def squeeze_spaces(text: str) -> str:
    """Remove justification spaces inside Chinese text.

    ``本 期 读 书 会`` → ``本期读书会``; ``10月 18日`` → ``10月18日``.  A
    space between Latin words, or between two Chinese phrases
    (``绿品出塞 北京有约``), carries meaning and is kept.
    """
    if " " not in text:
        return text
    text = _SPACED_RUN.sub(_unspaced, text)
    # A space next to a digit or Latin letter inside Chinese text is layout, not meaning.
    text = _SPACE_BEFORE_LATIN.sub("", text)
    return _SPACE_AFTER_LATIN.sub("", text)


def _unspaced(run: re.Match[str]) -> str:
    # Letters making up much of the run are listed one by one (选项有 A B C D 四种), not a
    # line justified, where a letter is one cell among many (因 G 2 0 峰 会 大 放 异 彩).
    text = run.group(0)
    if 4 * len(_LATIN_LETTER.findall(text)) > len(text) // 2:
        return text
    return text.replace(" ", "")


def join_vertical(lines: list[str]) -> list[str]:
    """Turn runs of one-character lines (text set vertically) back into one line.

    Three or more consecutive lines of a single visible character are joined;
    vertical quote marks ﹃﹄﹁﹂ become “”‘’.
    """
    out: list[str] = []
    run: list[str] = []
    for line in [*lines, None]:
        if line is not None and len(line) == 1:
            run.append(line)
            continue
        if len(run) >= 3:
            out.append("".join(run).translate(_VERTICAL_QUOTES))
        else:
            out.extend(run)
        run = []
        if line is not None:
            out.append(line)
    return out


def undouble(line: str) -> tuple[str, float]:
    """Collapse text printed twice in a row (``特别报道特别报道`` → ``特别报道``).

    Returns the collapsed line and the share of the original characters that
    sat in doubled runs; running heads extracted from page margins are mostly
    doubled, ordinary text almost never.
    """
    doubled = 0
    out: list[str] = []
    i = 0
    n = len(line)
    while i < n:
        best = 0
        # Longest repeat starting here; running heads are at most a few dozen characters.
        for size in range(min(40, (n - i) // 2), 1, -1):
            if line[i : i + size] == line[i + size : i + 2 * size]:
                best = size
                break
        if best:
            out.append(line[i : i + best])
            doubled += 2 * best
            i += 2 * best
        else:
            out.append(line[i])
            i += 1
    return "".join(out), (doubled / n if n else 0.0)


def full_width_punctuation(text: str) -> str:
    """``昨天上午,当省长(记者)说:`` → ``昨天上午，当省长（记者）说：``.

    Only marks touching Chinese text change: ``1,000``, ``10:30``, ``http://`` and Latin
    sentences keep theirs.  Brackets change as a pair, when they hold or touch Chinese.
    """
    if not any(mark in text for mark in ",:;?!()"):
        return text

    def bracket(match: re.Match[str]) -> str:
        before = text[match.start() - 1 : match.start()]
        after = text[match.end() : match.end() + 1]
        if has_cjk(match.group(1)) or has_cjk(before) or has_cjk(after):
            return f"（{match.group(1)}）"
        return match.group(0)

    text = _HALF_PARENS.sub(bracket, text)
    return _HALF_MARKS.sub(lambda m: (m.group(1) or m.group(2)).translate(_FULL), text)


def tighten_punctuation(text: str) -> str:
    """``厅长翟某： 纵深推进`` → ``厅长翟某：纵深推进``: no space beside full-width punctuation."""
    return _SPACE_BY_FULL_MARK.sub("", text) if " " in text else text


def fix_vertical_quotes(text: str) -> str:
    """Replace vertical quotation marks with horizontal ones."""
    return text.translate(_VERTICAL_QUOTES) if _VERTICAL_MARK.search(text) else text


def cjk_bigrams(text: str) -> set[str]:
    """The set of adjacent Chinese character pairs in a text (for word-overlap evidence)."""
    words: set[str] = set()
    for run in _CJK_RUN.findall(text):
        words.update(map(str.__add__, run, run[1:]))
    return words
