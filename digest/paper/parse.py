"""Page text → articles.  Pure functions: no I/O, no clock.

The words a page is read by (roles, outlets, places, ...) come in as one
``Conventions`` value (``digest.paper.conventions``); nothing here names a paper.
The parser works in four passes, each in its own module:

1. ``lines._logical_lines``: clean the text, split it into blocks at blank lines
   (noting the wide gaps that part articles), re-join vertical text and
   wrapped lines inside a block, keep apart short lines that do not fill the
   column, and cut a block where a new paragraph or a credit visibly starts.
2. ``classify._classify``: name each line by newspaper convention (section marker,
   running head, heading, byline, dateline, photo credit, page jump, editor
   note, body text), leaving short unpunctuated lines as *candidates*.
3. ``resolve._resolve``: decide each candidate from its neighbours and the page's
   layout: a heading, a crosshead, a column name, a column logo dropped from
   the middle of a sentence, or a wrapped fragment of a paragraph.
4. ``assemble._assemble``: group lines into articles.  Whether headlines stand above
   or below their bodies is decided per page by evidence (which body each
   headline's words come from, which side of the wide gaps between stories
   it stands on, whether the page ends on a headline: ``after.py``);
   captions, credits, bylines and datelines gather under their headline.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from digest.paper.after import _headlines_follow_bodies
from digest.paper.assemble import _assemble
from digest.paper.classify import _classify
from digest.paper.conventions import MAINLAND, Conventions
from digest.paper.lines import _CUT_LINE, _logical_lines
from digest.paper.pagename import _page_name
from digest.paper.resolve import _resolve
from digest.paper.variants import Folding
from digest.types import Article, Page

# Recorded with every page read; bump it when a change to the parser changes what pages yield,
# and the service re-reads the stored pages (``digest.ingest.pipeline``).
# 2: photo captions kept apart from the body; 3: 题：titles, each credit once; 4: 下转 ends a story,
# bulleted brief headlines, a dateline line closed by its credit, interview turns, 编者按 over a
# headline, the folio block; 5: indented lines open paragraphs, the page name before the folio's
# date, long bulleted section markers, tables of figures, no space beside full-width marks in headlines;
# 6: an indented block never goes on with the paragraph a column break cut off above it, a bare
# label between paragraphs (链接, 背景) is a paragraph of its own, the page name in the header's lines,
# a column name set a word to a line; 7: a short page name printed twice (要闻要闻) is a running head,
# a QR-code prompt (扫码看视频) is layout noise, a closing credit the wrap cut inside a word stays whole,
# a paragraph closed by its credit is finished before a wide gap (untitled photos in a row),
# a justified line's half-width marks, lone letters and decimal points lose their spaces too, and
# a justified line counts as wide as its column when the column's width is measured, a reader's
# tip acknowledged under a story (感谢…提供线索，奖励50元) is its note, a bare section name over a
# story's text on a page printing headlines under their stories is no headline, a space at a wrap
# inside a bracketed credit parts two names, labelled fields under a headline (时间：… / 地点：…) are text,
# bidi controls dropped from page text, a list of photo captions under a headline is no part of it, a
# bare section name over an untitled photo at the page's top is the section, a line between two stories
# signed by different reporters (dateline above, closing credit below) is the second one's headline,
# headline-last: a section name or captions with no story above them are no headline, a short line over
# a wide gap closes its story, a byline under it opens the next
# story, and the wide gaps around headlines help tell such a page; listed fields a line each, a byline a
# role to a line under finished text signs it, a role glued to the words after it (记者追问) is no credit
# unless they are a name (…好。”记者周远, 记者欧阳晓东, 记者从飞) closing the story or a paragraph whose next
# block opens no sentence about the reporter (…借阅。记者林雨 / 青石湖…), 文/李华 is a byline and 本报评论员
# one crediting no one,
# a column break inside a credit or a dateline (本报讯（记者 周 / 远）, 记者 郭炳 / 中 摄) parts it no
# more (one character after a name of two is its end, 记者 周小 / 川, but two or more after a whole name
# with no mark are no part of it: 记者 王明 / 家园, nor a word after a credit its mark closed: 记者 王明 摄
# / 民生; a lone character is no section), nor a wrap at the
# space between two names of a closing credit, a dateline on a justified line
# is read and opens a line of its own, a spread line ending a sentence ends its paragraph where most
# lines are spread, a jump note under a headline (上接第1版) is no part of it, a
# column's tag over a later headline (话外音) is that story's section alone (over the page's first one it
# is the page's), a page printed without blank lines joins only the lines filling its column mid-sentence
# and a page-long block with no full stop is a listing, its lines text; a number cut by a wrap gets no space,
# a line opening with a closing mark (” ，) goes on with the line above, a word padded to width over the
# page's first headline (要 闻) is its section, a headline between finished text and a dateline is a line
# of its own and a shorter block holding one is read as a page without blank lines is, untitled photos
# in a row each closed by its credit are apart without wide gaps too, and a wide gap in the page's
# header parts no stories; a headline (or a headline stack) alone after a finished paragraph and well short
# of the page's wrapped column opens a story on pages of single blank lines, a column may wrap at up to 44
# characters, three lines with no mark in them are set apart, five listed lines under a headline are
# captions, a roundup's name alone is a section marker (also under a story ending on its jump note) and stays
# in force after its briefs, and a line over
# labelled fields signed by a credit is their headline; a short line with a comma is no crosshead;
# a column tag is its story's own under a running head or where section names stand apart, a bracketed
# name, the folio line and a short running head under it are lines of their own, a kicker ending in a
# dash or colon joins a # headline, a bare word over a bulleted brief is the section, names closing a
# paragraph over a short line close the story, an outlet glued to a role is short, captions listed over
# a byline are set apart (under a one-line headline on a page without blank lines too), and a line or
# two printed whole leave a column a column, a layout code after the last sentence (②9) ends none, and
# a stack set apart on a page printing a paragraph to a line is as short as one short of a column;
# a dateline may print the year (新华社北京2026年12月2日电), jump notes 紧接第一版, 续第一版 and
# 下转A3版 are read (紧接第一版 was a credit), a credit after a dateline parted from the text by a
# space (本报讯 记者X 实习生Y 报道　…) is read, a folio dated with dots (东岭日报 | 2026.12.03 | 05) is
# furniture, an editors' line right under the text's last sentence is no part of it (版式, 排版, 组版,
# 审校, 美术编辑 and 执行编辑 are editors), 评论员文章 is no byline, and a name of three characters alone
# between a headline and the text signs the story, a numbered part's heading alone after a finished
# paragraph ((一)…, 二、…) is a crosshead;
# words before a credit's first role that no mark credits are no names (这几天，晚报记者X每), and
# a text closed by a credit a role to a line, or by a reporter beside a photographer, is signed by them;
# a lead opening with a date and its year (2023年5月6日，…) opens as leads do, a line under a # headline
# filling the column with a comma in it is the text's first line a column break cut, no subtitle, and
# a line alone of over 30 characters with two commas or more is prose, never a headline;
# 编者按 before a space is an editor's note (one across a column break, over a column name over a
# headline the story's, over a photo story's captions alone its text), 视觉 credits only set apart
# (视觉 X, 视觉：X), a list number opening a line under ：, ； or a sentence's end starts a paragraph,
# a crosshead of 5–12 characters alone after a finished paragraph stays apart on pages of single blanks
# (short of the column, or unindented over an indented paragraph where a paragraph prints to a line),
# a headline alone with no clause mark opens a story where a paragraph prints to a line, and a block's
# last line counts when the page's column is measured; (still 7: no page read before reads otherwise)
# a page printed in traditional characters (本報訊, 記者, 編者按, 責任編輯, 下轉第6版) is read by the same
# words through a folding to simplified ones (``variants``), its articles keeping what it printed;
# on a page without blank lines a line under a
# finished sentence may be a headline ending in ！ or holding a comma, a headline of two phrases side by
# side is no wrap under finished text, a lead naming its day first (昨天上午，…) opens as leads do, and
# a line there wraps in the column the lines around it set, where narrower than the page's; a writer's
# credit closing the paragraph under a crosshead of a story unsigned at its top makes it no headline,
# and a crosshead on a page without blank lines is a paragraph of its own; a cut line (────, ****) is a
# wide gap (reported dropped); on a page without blank lines a credit closing the text finishes it as
# a full stop does; the tags Taiwan's and Hong Kong's papers print before a lead are its
# dateline and credit (【记者X／台北报导】, 〔记者X／台北报导〕, 记者X／台北报导 alone or before a
# space, （中央社记者X台北5日电）, （综合外电报导）, 【港湾专讯】, ``leadtags``), news agencies (中央社,
# 法新社, 路透社, 美联社…) are known outlets naming a dateline's place, and 专电 closes a dateline as 电
# does; 「」 and 『』 are quotation marks wherever “” are, and a photo credited to an agency (图／中央社)
# is a credit, as is a translator (编译); a bracketed source alone in its paragraph ((新华社电), (本报综合),
# (綜合外電報導)) closes the story above, the last words of its text, never the next headline's
# (a paragraph of its own under a headline), and an editor's credit after the last sentence (…。(X编辑))
# finishes a story as a closing credit does, so the line under it may be a headline; headline-last, a
# crosshead alone over a line alone that is text by itself is no column's name over a headline; in the
# Central News Agency's dateline the reporter's name ends where a place it files from begins (李華華盛頓,
# 歐陽曉東臺北), names of two and four characters too; a titled photo story credited to its photographers
# alone ends where a caption closed by another photographer's credit follows its finished text; where a
# paragraph prints to a line, a crosshead of 5–12 characters the sentence under it repeats stays apart;
# on a page without blank lines a one-phrase question under a headline is its subtitle, and a line
# under a candidate set short is set short too (a kicker, headline and subtitle weighed as one stack);
# a line short of the column over a dateline is its headline also under text a column break cut;
# on a page without blank lines a paragraph's first line short of the column by its dropped indent, no
# mark in it, goes on into a line reading as prose (filling the column, or ending the sentence, marked),
# and a line leaving a bracketed credit open goes on into the line closing it; a line opening a
# quotation the paragraph under it closes in a sentence is a quoted lead's first line, no headline;
# on a page marking headlines with #, an unmarked bare word over an untitled photo is its section anywhere
# a heading line of one character over one opening with a character and a space (图 / 解 关于…) is a
# vertically set label, the headline's first word, never a one-character kicker
PARSER_VERSION = "7"


def parse_page(
    text: str, name: str = "", conventions: Conventions = MAINLAND, issue: date | None = None
) -> Page:
    """Split one page's text into articles, in reading order.

    ``conventions`` are the words the page is read by (roles, outlets,
    places); ``issue``, when known, is the day the page was printed, which
    gives a day-only dateline (``本报合肥18日电``) its month.  Never raises on
    any string; a page with no recognisable structure becomes one article
    holding all its text.
    """
    folding = Folding.of(text)
    if folding is None:
        return _parse(text, name, conventions, issue)
    # A page in traditional characters is read by the same words as any other (本報訊 as 本报讯),
    # and its articles get back the characters it printed.
    page = _parse(folding.fold(text), name, conventions, issue)
    return Page(name=name, articles=folding.unfold(page.articles), dropped=folding.unfold(page.dropped))


def _parse(text: str, name: str, conventions: Conventions, issue: date | None) -> Page:
    conv = conventions
    classified = _classify(*_logical_lines(text, conv), conv, issue)
    page_name = _page_name(classified, conv)
    lines, dropped = _resolve(classified, False, conv, page_name)
    after = _headlines_follow_bodies(lines)
    if after:
        # Headline-last pages put a headline between two bodies; look again at short lines
        # there that the first reading took for paragraph fragments.
        lines, dropped = _resolve(classified, True, conv, page_name)
    builders, unused = _assemble(lines, after, conv, page_name)
    articles = tuple(b.build() for b in builders)
    # Cut lines (────) part stories as wide gaps do (``lines._blocks``); they are reported as dropped.
    cuts = [line.strip() for line in text.splitlines() if _CUT_LINE.match(line)]
    return Page(name=name, articles=articles, dropped=(*cuts, *dropped, *unused))


# -- article fields --------------------------------------------------------------------------


def articles_text(articles: Iterable[Article]) -> str:
    """All the text a page's articles carry, for checks that nothing was lost."""
    parts: list[str] = []
    for a in articles:
        parts.extend(x for x in (a.section, a.kicker, a.title, a.subtitle, a.body) if x)
        parts.extend(a.notes)
        parts.extend(c.name for c in a.credits)
    return "\n".join(parts)
