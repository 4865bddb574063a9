"""What kind of piece an article is (news, photo, interview, commentary, infographic), told from
its headline, credits, subtitle, section and length.

Package-internal (names with a leading underscore are shared within digest.paper only)."""

from __future__ import annotations

import re
from dataclasses import replace

from digest.paper.bylines import photographed
from digest.types import Article, Kind

# Columns that carry opinion, not news (a "速评" column of news briefs is not one of them).
_OPINION = ("评论", "短评", "时评", "社论", "言论", "评论员文章", "观点")


_PHOTO_BODY = 600  # a photo story's caption is short; a news story with a photo is not a photo


def _with_kind(article: Article, labels: int) -> Article:
    """``article`` with its kind told; ``labels``: the interview turns its text prints."""
    kind = _kind(article, labels)
    # Most articles keep the kind they were made with: a copy of a frozen article costs as much
    # as telling its kind.
    return article if kind == article.kind else replace(article, kind=kind)


def _kind(article: Article, labels: int) -> Kind:
    """The article's kind, the most telling sign first: a chart's, a photo's credit on a short text,
    an interview's subtitle or turns, an opinion column's name."""
    heads = " ".join(x for x in (article.kicker, article.title) if x)
    roles = {c.role for c in article.credits}
    if heads.startswith(("图解", "图表")) or roles & {"制图", "设计"}:
        return Kind.INFOGRAPHIC
    if any(photographed(c) for c in article.credits) and len(article.printed_body()) <= _PHOTO_BODY:
        return Kind.PHOTO
    subtitle = article.subtitle or ""
    if subtitle.lstrip("—-─ ").startswith("访") or "专访" in heads or labels >= 2:
        return Kind.INTERVIEW
    if (
        re.match(r"^[—\-─\s]*[一二三四五六七八九十]?(?:谈|论|评)", subtitle)
        or heads.startswith(_OPINION)
        or article.section in _OPINION
    ):
        return Kind.COMMENTARY
    return Kind.NEWS
