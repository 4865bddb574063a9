"""Resolved lines → articles: headline groups, credits, datelines, captions, body paragraphs, and
the kind of each piece.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

from digest.paper.apart import _PHOTO_REACH, _photo
from digest.paper.builder import _Builder
from digest.paper.bylines import (
    BULLET,
    continues_elsewhere,
    find_jumps,
    photographed,
    trailing_credit,
)
from digest.paper.classify import T, _Line, _wide_gaps
from digest.paper.conventions import Conventions
from digest.paper.headlike import _headline_shaped
from digest.paper.resolve import _CAPTION_START, _finished, _is_caption
from digest.paper.textnorm import ends_sentence
from digest.types import Credit


def _assemble(
    lines: list[_Line], after: bool, conv: Conventions, page_name: str | None = None
) -> tuple[list[_Builder], list[str]]:
    """Group lines into articles; also returns what no article keeps: section markers no article
    stood under, and the dateline titles (题：…) of articles that print their own headline.

    ``page_name``, the name the folio gives the page (第3版 经济), is the section of the
    articles above the page's first section marker.
    """
    built: list[_Builder] = []
    seen: list[str] = []  # section markers, in order
    section: str | None = page_name
    pending_notes: list[str] = []
    cur: _Builder | None = None
    wide_gaps = _wide_gaps(lines)

    def start() -> _Builder:
        nonlocal cur
        cur = _Builder(section=section, conv=conv)
        cur.notes.extend(pending_notes)
        pending_notes.clear()
        built.append(cur)
        return cur

    for index, line in enumerate(lines):
        nxt = lines[index + 1] if index + 1 < len(lines) else None
        if line.kind is T.SECTION:
            seen.append(line.text)
            section = line.text
            if cur is not None:
                cur.closed = True
        elif line.kind is T.HEADING:
            if cur is not None and cur.title_lines and (nxt is None or nxt.kind is T.SECTION):
                # Headings with no article of their own (an infographic's sub-heads, a page-end
                # title for the next page): keep them with the article they stand under.
                for text in line.lines:
                    if nxt is None:
                        cur.notes.append(text)
                    else:
                        cur.paras.append([text])
            elif after and cur is not None and cur.has_body() and not cur.title_lines and not cur.closed:
                cur.headed(line)
                cur.closed = True
            elif cur is not None and cur.title_lines and cur.jumps and not cur.has_body():
                # A continuation (上接第1版) repeats its headline; a heading under the jump is
                # the continuation's crosshead.
                cur.add_crosshead(" ".join(line.lines))
            else:
                start().headed(line)
        elif line.kind is T.BYLINE:
            # A byline belongs to the article whose headline it stands under: the open one
            # before its body starts or, headline-last, the one just closed by its headline when
            # the story under the byline names its own writers (else the byline opens that one).
            opening = cur is not None and not cur.closed and (not cur.has_body() or cur.only_captions())
            closing = after and cur is not None and cur.closed and not cur.credits and _signed_below(nxt)
            if cur is not None and opening:
                cur.text_opens()
            (cur if cur is not None and (opening or closing) else start()).credits.extend(line.credits)
        elif line.kind in (T.CREDIT, T.PAREN):
            # Headline-last, a credit line under a headline opens the next story, as a byline does.
            opens = (
                after and line.kind is T.CREDIT and cur is not None and cur.closed and not _signed_below(nxt)
            )
            credited = start() if cur is None or opens else cur
            credited.credits.extend(line.credits)
            if any(photographed(c) for c in line.credits):
                credited.credit_last_caption(line.text)
            # A credit after the text closes the story; a photographer's may be followed by more
            # captions of the same pictures.
            signed = cur is not None and cur.has_body() and not cur.only_captions()
            if cur is not None and (
                line.kind is T.PAREN or (signed and not any(photographed(c) for c in line.credits))
            ):
                cur.ended = True
        elif line.kind is T.CROSSHEAD:
            open_one = cur is not None and not cur.closed and not cur.ended
            (cur if cur is not None and open_one else start()).add_crosshead(line.text)
        elif line.kind is T.JUMP:
            jumped = cur or start()
            jumps = find_jumps(line.text)[1]
            jumped.jumps.extend(jumps)
            jumped.ended = jumped.ended or (jumped.has_body() and continues_elsewhere(jumps))
        elif line.kind is T.NOTE:
            # An editor's note (编者按) printed over a headline introduces the story under it, also
            # where the story's column name stands between them (编者按 / 老街新事 / 标题).
            ahead = line.text.startswith("编者按") and _headline_ahead(lines[index + 1 :])
            if cur is None or cur.closed or (ahead and not after):
                pending_notes.append(line.text)
            else:
                cur.notes.append(line.text)
        elif line.dateline is not None:
            # A dateline opens an article, unless the open one has only its headline, byline
            # and photo captions so far.
            if cur is None or cur.closed or cur.ended or cur.dateline or not cur.only_captions():
                start()
            assert cur is not None
            cur.text_opens()
            cur.add_dateline(line)
        else:
            heads = (section, *cur.title_lines) if cur is not None else ()
            bulleted = BULLET.match(line.text) is not None
            # A brief's own headline: a bulleted phrase right over its dateline (■ 标题 / 本报讯 …).
            titled = bulleted and nxt is not None and nxt.dateline is not None and _headline_shaped(line.text)
            brief = bulleted and (  # an item of a roundup of briefs
                titled
                or any((t or "").endswith(conv.roundups) for t in heads)
                or trailing_credit(line.text, conv) is not None
            )
            roundup = brief and cur is not None and not cur.has_body() and len(cur.title_lines) == 1
            if roundup:
                # A roundup of briefs (△ item (X), △ item (Y)): its heading is their column, a
                # section label in force until the next, as any bare section word is.
                assert cur is not None
                section = cur.section = cur.title_lines.pop()
            if titled:
                if cur is None or cur.title_lines or cur.paras:
                    start()
                assert cur is not None
                cur.title_lines = [line.text]
                continue
            if not roundup and (
                cur is None
                or cur.closed
                or cur.ended
                or (cur.signed_off(line.text) and not _is_caption(line.text, conv))
                or (brief and cur.has_body())
                or (
                    wide_gaps
                    and line.gap >= 2
                    and cur.has_body()
                    and _finished(cur.paras[-1], line.text, conv)
                )
                or (not after and _next_photo(cur, lines, index, conv))
            ):
                start()
            assert cur is not None
            cur.add_para(line.text, line.label, line.apart, line.row, line.indent)
            if line.speaker:
                cur.speakers[line.speaker] += 1
    if pending_notes:
        (cur or start()).notes.extend(pending_notes)
    kept = _fold_orphans(built)
    used = {b.section for b in kept}
    repeated = [title for title in (b.repeated_title() for b in kept) if title]
    return kept, [*(name for name in dict.fromkeys(seen) if name not in used), *repeated]


def _next_photo(cur: _Builder, lines: list[_Line], index: int, conv: Conventions) -> bool:
    """Untitled photos printed one after another with no wide gap between them: the untitled
    story the photographer's credit just closed (…育苗。本报记者 林小河 摄) is finished where the
    text under the credit is another photo's, its caption closed by a photographer's credit
    within a few lines (近日，白沙乡… / …修剪果树。本报记者 周远 摄).  A line opening 图为 there is
    another caption of the same pictures; under a headline, captions each closed by a credit
    are one photo story's, but see ``_another_photo``.  ``lines[index]`` is the text under the credit."""
    if not cur.has_body() or _CAPTION_START.match(lines[index].text):
        return False
    if cur.title_lines:
        return _another_photo(cur, lines, index, conv)
    prev = lines[index - 1]
    credits = prev.credits if prev.kind is T.CREDIT else _closing_credits(prev, conv)
    return (
        any(photographed(c) for c in credits)
        and _photo(lines[index : index + _PHOTO_REACH], conv) is not None
    )


def _another_photo(cur: _Builder, lines: list[_Line], index: int, conv: Conventions) -> bool:
    """Is ``lines[index]``, under the finished text (no caption's credit) of a titled photo story
    credited to its photographers alone (街拍 / 拍摄者：本报记者 X / …。), an untitled photo's caption:
    closed, or with the line under it, by the credit of a photographer the story does not name?
    A photo story's pictures are its own photographers'; one credited to someone else is another
    story, printed under it where the page has no blank line to part them."""
    names = {c.name for c in cur.credits}
    prev, below = lines[index - 1], lines[index : index + 2]
    end = _photo(below, conv)
    if end is None or (end and below[end].kind is not T.CREDIT) or prev.kind is not T.PARA:
        return False  # under a caption's credit, a caption of the same photo story
    finished = ends_sentence(prev.text) and not _closing_credits(prev, conv) and not cur.only_captions()
    if not finished or not names or not all(photographed(c) for c in cur.credits):
        return False
    credits = below[end].credits if below[end].kind is T.CREDIT else _closing_credits(below[end], conv)
    return not names & {c.name for c in credits}


def _closing_credits(line: _Line, conv: Conventions) -> tuple[Credit, ...]:
    """The credits closing a paragraph of text (…育苗。本报记者 林小河 摄), if any."""
    credit = trailing_credit(line.text, conv) if line.kind is T.PARA else None
    return credit[1] if credit is not None else ()


def _headline_ahead(below: list[_Line]) -> bool:
    """Is the next thing printed a headline, past the section or column names over it?"""
    nxt = next((line for line in below if line.kind is not T.SECTION), None)
    return nxt is not None and nxt.kind is T.HEADING


def _signed_below(nxt: _Line | None) -> bool:
    """Does the story under a credit printed between two stories open with a dateline naming its
    own writers?  Headline-last, such a credit signs the story its headline closed (a signature
    printed under the headline); else it stands at the top of the story below, as a byline does."""
    return nxt is not None and nxt.dateline is not None and bool(nxt.dateline.credits)


def _fold_orphans(built: list[_Builder]) -> list[_Builder]:
    """A byline or jump with no article after it belongs to the article before it."""
    kept: list[_Builder] = []
    for b in built:
        if b.empty() and kept and not b.dateline:
            kept[-1].credits.extend(b.credits)
            kept[-1].jumps.extend(b.jumps)
        elif not b.empty() or b.credits or b.jumps or b.dateline:
            kept.append(b)
    return kept
