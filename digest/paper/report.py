"""Two views of a parsed page: JSON Lines for tools, a plain-text summary for editors."""

from __future__ import annotations

from typing import Any

from digest.paper.titles import short_title
from digest.types import Article, Page


def article_json(article: Article) -> dict[str, Any]:
    """One article as a JSON-ready dict (the format ``score_parse.py`` reads)."""
    return {
        "section": article.section,
        "kicker": article.kicker,
        "title": article.title,
        # Derived from the first clause when the page prints no headline; ``title`` stays null.
        "short_title": None if article.title else short_title(article.body),
        "subtitle": article.subtitle,
        "authors": list(article.authors),
        "credits": [{"name": c.name, "role": c.role} for c in article.credits],
        "date": article.date,
        "place": article.place,
        "kind": article.kind.value,
        "body": article.body,
        "dateline": article.dateline,
        "notes": list(article.notes),
        "jumps": list(article.jumps),
        # Strings, as the scorer reads every list of strings as text the article carries.
        "captions": [c.text for c in article.captions],
        "caption_credits": [c.credit for c in article.captions],
    }


def page_json(page: Page) -> dict[str, Any]:
    """One page as a JSON-ready dict: ``{"file": ..., "articles": [...]}``."""
    return {"file": page.name, "articles": [article_json(a) for a in page.articles]}


def render_page(page: Page) -> str:
    """A readable view of how a page was split, for an editor to check at a glance."""
    out = [f"{page.name}: {len(page.articles)} articles"]
    if page.dropped:
        out.append("dropped as layout noise: " + " | ".join(page.dropped))
    for number, a in enumerate(page.articles, 1):
        out.append("")
        derived = short_title(a.body)
        out.append(f"[{number}] {a.title or '(no headline) ' + (derived or '')}".rstrip())
        fields = [
            ("section", a.section),
            ("kicker", a.kicker),
            ("subtitle", a.subtitle),
            ("authors", "、".join(f"{c.name}({c.role})" if c.role else c.name for c in a.credits)),
            ("date", a.date),
            ("place", a.place),
            ("kind", a.kind.value),
            ("jumps", "、".join(a.jumps)),
            ("notes", f"{len(a.notes)}" if a.notes else ""),
            ("captions", " | ".join(f"{c.text}（{c.credit}）" if c.credit else c.text for c in a.captions)),
        ]
        out.extend(f"    {name:<8} {value}" for name, value in fields if value)
        first = a.body.split("\n", 1)[0] if a.body else ""
        if len(first) > 60:
            first = first[:60] + "…"
        paragraphs = a.body.count("\n\n") + 1 if a.body else 0
        out.append(f"    body     {paragraphs} paragraphs, {len(a.body)} chars: {first}")
    return "\n".join(out)
