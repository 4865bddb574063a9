"""An article's text as HTML: the one markup a feed entry's content and the article page share.

Feed readers drop class attributes and style sheets, so the markup reads well bare: its elements
carry the meaning (``<strong>`` for the subtitle, ``<small>`` for what is secondary, a worded
图片说明 label before the photo captions, ``<blockquote>`` setting an editor's note apart), and
its classes carry the site's look (``templates/static/style.css``).  The article page adds only
what belongs to a page: the section and page line, the headline, the dateline linking its issue,
the pager (``templates/article.html``).

Plain ``escape`` and f-strings, no template: Jinja's ``Markup.format`` costs more than the rest
of a feed entry, and a full build draws every article's text for its page and for its entry
(issue 18: full builds of 10k articles and more).
"""

from __future__ import annotations

from functools import lru_cache

from markupsafe import escape

from digest.publish.layout import Story, caption_line

# Captions stand apart, as the page prints them beside its photos; the label says so in words.
_CAPTIONS_OPEN = (
    '<aside class="captions">\n<p class="caption-label"><small><strong>图片说明</strong></small></p>'
)
# Between the jump lines of one article (上接第1版 · 下转第4版).
_JUMP_SEPARATOR = " · "


def kicker_html(story: Story) -> str:
    """The kicker printed above the headline ("" when there is none)."""
    return f'<p class="kicker">{escape(story.kicker)}</p>' if story.kicker else ""


def standfirst_html(story: Story, dateline: str = "") -> str:
    """What stands between the headline and the text: the subtitle and the credit line, which
    holds the byline and then ``dateline`` (a feed entry's; the page draws its own, with the
    issue's link)."""
    parts = []
    if story.subtitle:
        parts.append(f'<p class="subtitle"><strong>{escape(story.subtitle)}</strong></p>')
    credit = "　".join(p for p in (story.byline, dateline) if p)
    if credit:
        parts.append(f'<p class="byline">{escape(credit)}</p>')
    return "\n".join(parts)


# An article's page and its feed entry are drawn one after the other from the same ``Story``
# (``drawing``): the second takes the first's body instead of drawing it again.
@lru_cache(maxsize=1)
def body_html(story: Story) -> str:
    """The text: its paragraphs, then the photo captions, the editor's notes and the jump lines."""
    parts = [f"<p>{escape(p)}</p>" for p in story.paragraphs]
    captions = story.captions
    if captions:
        parts.append(_CAPTIONS_OPEN)
        parts.extend(f'<p class="caption"><small>{escape(caption_line(c))}</small></p>' for c in captions)
        parts.append("</aside>")
    parts.extend(f'<blockquote class="note"><p>{escape(note)}</p></blockquote>' for note in story.notes)
    if story.jumps:
        parts.append(f'<p class="jumps"><small>{escape(_JUMP_SEPARATOR.join(story.jumps))}</small></p>')
    return "\n".join(parts)


def story_html(story: Story) -> str:
    """An article's full text as one fragment (a feed entry's content, whose title is the
    headline): kicker, subtitle, byline with the dateline, and the text."""
    parts = (kicker_html(story), standfirst_html(story, story.dateline), body_html(story))
    return "\n".join(p for p in parts if p)
