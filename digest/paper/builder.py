"""An article as it is gathered (``_Builder``): its headline, credits, dateline, captions and
body paragraphs, and how a line cut off by a column break joins the paragraph it belongs to.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from digest.paper.bylines import (
    BULLET,
    continues_elsewhere,
    find_jumps,
    photographed,
    reporting_goes_on,
    trailing_credit,
)
from digest.paper.classify import _NOTE, _Line
from digest.paper.conventions import Conventions
from digest.paper.heading import _clean_para, _headline
from digest.paper.headlike import _headline_shaped
from digest.paper.kinds import _with_kind
from digest.paper.leadtags import source_alone
from digest.paper.resolve import _CAPTION, _CAPTION_START, _is_caption
from digest.paper.shapes import _FIELD, _opens_item
from digest.paper.textnorm import (
    ends_sentence,
    join_wrapped,
    squeeze_spaces,
)
from digest.types import Article, Caption, Credit

# Agency copy names the story after its dateline (新华社沈阳5月2日电 题：…): a headline, not text.
_DISPATCH_TITLE = re.compile(r"^题\s*[：:]\s*(?P<title>\S.*)$")


_DISPATCH_SUBTITLE = re.compile(r"(?=——|──)")  # where a 题： title's subtitle starts


@dataclass
class _Builder:
    section: str | None
    conv: Conventions
    title_lines: list[str] = field(default_factory=list)
    paras: list[list[str]] = field(default_factory=list)  # each paragraph as the pieces it was cut into
    credits: list[Credit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    jumps: list[str] = field(default_factory=list)
    date: str | None = None
    place: str | None = None
    dateline: str | None = None
    dispatch_title: str | None = None  # the title printed after the dateline (…电 题：…)
    labels: int = 0
    speakers: Counter[str] = field(default_factory=Counter)  # names paragraphs open with
    closed: bool = False  # its headline has been printed below it: what follows is another article
    ended: bool = False  # a credit closed its text: a paragraph after it is another article's
    crossheads: set[int] = field(default_factory=set)  # paragraphs nothing is joined onto
    rows: set[int] = field(default_factory=set)  # a table's rows: joined with nothing, never captions
    listed: set[int] = field(default_factory=set)  # lines set apart (captions, fields): never joined
    before_text: int = 0  # paragraphs printed before the dateline or byline: captions
    caption_credits: dict[int, str] = field(default_factory=dict)  # credits printed under captions
    signed: set[int] = field(default_factory=set)  # paragraphs a credit glued to their end closes

    def empty(self) -> bool:
        return not (self.title_lines or self.paras or self.notes)

    def has_body(self) -> bool:
        return bool(self.paras)

    def only_captions(self) -> bool:
        """Nothing but photo captions so far (a caption with its credit, or a list of short
        captions under the headline): the byline and dateline may still come."""
        for pieces in self.paras:
            para = join_wrapped(pieces)
            if not (_listed(para) or _is_caption(para, self.conv)):
                return False
        return True

    def headed(self, heading: _Line) -> None:
        """The story's headline; a column's tag over it names the story's section, not the page's."""
        self.title_lines = list(heading.lines)
        self.section = heading.tag or self.section

    def add_crosshead(self, text: str) -> None:
        """A crosshead (小标题) is a paragraph of its own, never the start of the next one."""
        self.crossheads.add(len(self.paras))
        self.paras.append([text])

    def credit_last_caption(self, credit: str) -> None:
        """A photographer's credit on the line under a caption (图为… / 本报记者 X 摄) is its own."""
        last = len(self.paras) - 1
        if last >= 0 and last not in self.caption_credits and _CAPTION_START.match(self.paras[last][0]):
            self.caption_credits[last] = _clean_para(credit.strip("()（） "))

    def text_opens(self) -> None:
        """A dateline or byline opens the text: what stands before it are photo captions."""
        self.before_text = len(self.paras)

    def add_para(
        self, text: str, label: bool = False, apart: bool = False, row: bool = False, indent: bool = False
    ) -> None:
        """Add a paragraph, or the rest of one a column break cut off mid-sentence; a line that
        opens with a paragraph indent always starts a paragraph of its own."""
        text, jumps = find_jumps(text)
        self.jumps.extend(jumps)
        # The story goes on on another page: what this page prints next is another story.
        self.ended = self.ended or continues_elsewhere(jumps)
        text = BULLET.sub("", text).strip()
        if not text:
            return
        self.labels += label
        last = len(self.paras) - 1
        signed = self.signed_off(text)
        if signed:
            self.signed.add(last)
        if (
            self.paras
            and not ends_sentence(self.paras[-1][-1])
            and not label
            and not apart
            and not row
            and not indent
            and last not in self.crossheads
            and last not in self.rows
            and last not in self.listed
            and not _CAPTION_START.match(self.paras[-1][0])  # a caption is a paragraph of its own
            and not trailing_credit(self.paras[-1][-1], self.conv)
            and not source_alone(self.paras[-1][-1], self.conv.not_a_name)  # （新华社电） is whole
            and not signed
            and not _opens_item(self.paras[-1][-1], text)  # a list's lead-in (…如下：) over its item
        ):
            self.paras[-1].append(text)
        else:
            if apart:
                self.listed.add(len(self.paras))
            if row:
                self.rows.add(len(self.paras))
            self.paras.append([text])
        if trailing_credit(text, self.conv) and not _is_caption(text, self.conv):
            self.ended = True

    def signed_off(self, text: str) -> bool:
        """Does a credit glued to the last paragraph's last sentence close it (…借阅。记者林雨), with
        ``text`` not going on with a sentence about the reporter there (…。记者随后来 / 到城北…)?
        Then ``text`` opens a paragraph of its own, and another story unless it is a caption."""
        if not self.paras:
            return False
        last = self.paras[-1][-1]
        # A credit set apart (…。 记者 林雨, a caption's …摄) reads anywhere: add_para ends the story.
        return (
            trailing_credit(last, self.conv) is None
            and trailing_credit(last, self.conv, closing=True) is not None
            and not reporting_goes_on(last, text, self.conv)
        )

    def add_dateline(self, line: _Line) -> None:
        assert line.dateline is not None
        self.date = self.date or line.dateline.date
        self.place = self.place or line.dateline.place
        self.dateline = self.dateline or squeeze_spaces(line.text[: line.dateline.length].strip())
        self.credits.extend(line.dateline.credits)
        rest = line.text[line.dateline.length :]
        title = _dispatch_title(rest)
        if title is None:
            self.add_para(rest)
        else:
            self.dispatch_title = self.dispatch_title or title

    def headline_lines(self) -> list[str]:
        """The headline as printed over or under the text or, for a story with none, the title
        its dateline gives (题：“…”——…, the part after the dash its subtitle)."""
        if self.title_lines or self.dispatch_title is None:
            return self.title_lines
        return [part for part in _DISPATCH_SUBTITLE.split(self.dispatch_title, maxsplit=1) if part]

    def repeated_title(self) -> str | None:
        """The dateline's title of a story that prints its own headline: the same story named
        again (often word for word), so no part of the article."""
        return self.dispatch_title if self.title_lines else None

    def _caption_at(self, index: int, para: str) -> bool:
        """Is paragraph ``index`` a photo caption?  Those printed before the dateline or byline
        that opens the text, a list of short lines set apart at the top of the text, and
        paragraphs shaped as captions (图为…, …X 摄); never a crosshead."""
        if index in self.crossheads or index in self.rows:
            return False
        if _is_caption(para, self.conv):
            return True
        if _FIELD.match(para):
            return False  # 时间：… 地点：… are the story's own facts
        leading = all(i in self.listed and _listed(join_wrapped(self.paras[i])) for i in range(index + 1))
        return index < self.before_text or leading

    def _pictures_only(self, paras: list[tuple[str, str, bool]]) -> bool:
        """Are these paragraphs (text, credit, caption?) a photo story's captions and nothing else:
        each a caption or as short as one, under a photographer's credit?"""
        return (
            bool(paras)
            and any(photographed(c) for c in self.credits)
            and all(caption or len(text) <= _CAPTION for text, _, caption in paras)
        )

    def build(self) -> Article:
        kicker, title, subtitle = _headline(self.headline_lines(), self.conv)
        paras: list[tuple[str, str, bool]] = []  # text, the credit printed after it, a caption?
        # The last paragraph closes the story unless the story goes on on another page: a credit
        # glued to its last sentence (…好。”记者周远) is one there and only there.
        last = -1 if continues_elsewhere(self.jumps) else len(self.paras) - 1
        for index, pieces in enumerate(self.paras):
            para = join_wrapped(pieces)
            caption = self._caption_at(index, para)
            printed = self.caption_credits.get(index, "")
            credit = trailing_credit(para, self.conv, closing=index == last or index in self.signed)
            if credit:
                # A credit closing a paragraph (…特点。(吕劲), a caption's …摄) names people, not text.
                printed = _clean_para(para[len(credit[0]) :].strip().strip("()（）"))
                para = credit[0]
                self.credits.extend(credit[1])
            para = _clean_para(para)
            if para:
                paras.append((para, printed, caption))
        notes = [_clean_para(n) for n in self.notes]
        if any(_NOTE.match(n) for n in notes) and self._pictures_only(paras):
            # A photo story whose only text is its editor's note over the pictures' captions (编者按
            # 秋风起…): the note is the story's text, as the captions would be without it.
            paras = [(n, "", False) for n in notes if _NOTE.match(n)] + paras
            notes = [n for n in notes if not _NOTE.match(n)]
        captions = _captions(paras)
        body = "\n\n".join(text for text, _, caption in paras if not (caption and captions))
        article = Article(
            title=title,
            body=body,
            section=self.section,
            kicker=kicker,
            subtitle=subtitle,
            # The same credit comes again from each caption a reporter shot, and from a byline
            # and a dateline naming one reporter: each once, where first gathered.
            credits=tuple(dict.fromkeys(self.credits)),
            date=self.date,
            place=self.place,
            dateline=self.dateline,
            notes=tuple(notes),
            jumps=tuple(dict.fromkeys(self.jumps)),
            captions=captions,
        )
        # An interview: question-and-answer labels, or speakers who take the floor again.
        turns = self.labels + sum(n for n in self.speakers.values() if n >= 2)
        return _with_kind(article, turns)


def _dispatch_title(rest: str) -> str | None:
    """The title after a dateline (``题：“咱们的家园”——某地见闻``) when the rest of its paragraph
    is one; None for text, which stays the story's first paragraph."""
    match = _DISPATCH_TITLE.match(rest.strip())
    if match and _headline_shaped(match.group("title")):
        return match.group("title")
    return None


def _listed(para: str) -> bool:
    """Shaped as one of a list of captions: short, and no sentence in it."""
    return len(para) <= _CAPTION and "。" not in para and not ends_sentence(para)


def _captions(paras: list[tuple[str, str, bool]]) -> tuple[Caption, ...]:
    """The captions among an article's paragraphs (text, printed credit, caption?), each with
    the number of body paragraphs before it.

    When the captions hold as much text as the rest, they are the story (a photo story's
    text is its pictures' captions) and stay its body: none is returned.
    """
    shown = sum(len(text) for text, _, caption in paras if caption)
    if not shown or shown >= sum(len(text) for text, _, caption in paras if not caption):
        return ()
    out: list[Caption] = []
    at = 0
    for text, credit, caption in paras:
        if caption:
            out.append(Caption(text=text, credit=credit, at=at))
        else:
            at += 1
    return tuple(out)
