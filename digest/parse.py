"""Page text → articles.  Pure functions: no I/O, no clock.

(Placeholder: the real parser is being written; the signature is final.)
"""

from __future__ import annotations

from digest.types import Article, Page


def parse_page(text: str, name: str = "") -> Page:
    """Split one page's text into articles, in reading order.

    Never raises on any string; a page with no recognisable structure becomes
    one article holding all its text.
    """
    blocks = [b.strip() for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()]
    articles: list[Article] = []
    title: str | None = None
    body: list[str] = []
    for block in blocks:
        if block.startswith("#"):
            if body or title:
                articles.append(Article(title=title, body="\n\n".join(body)))
            title, body = block.lstrip("# ").strip(), []
        else:
            body.append(block)
    if body or title:
        articles.append(Article(title=title, body="\n\n".join(body)))
    return Page(name=name, articles=tuple(articles))
