"""The site's Jinja2 templates: where they are (in a checkout or an installed wheel), the one
environment over them, and rendering a page's context to bytes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache, partial
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from digest.language import DEFAULT_LANGUAGE, fixed_source, fixed_words, og_locale
from digest.publish.layout import (
    ATOM_TYPE,
    JSON_FEED_TYPE,
    NO_ARTICLES,
)


def _templates_folder() -> Path:
    """The top-level ``templates/`` folder: beside the package in a checkout (and an editable
    install), inside it in an installed wheel, where pyproject.toml ships it as ``digest/templates``."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "templates"
    return installed if installed.is_dir() else package.parent / "templates"


TEMPLATES = _templates_folder()


def cn_date(day: date) -> str:
    """``2024年11月27日``."""
    return f"{day.year}年{day.month}月{day.day}日"


class _FixedWordsLoader(FileSystemLoader):
    """The templates with their fixed words written as ``language`` writes them, and its fonts.

    The source is converted before Jinja compiles it, so only what the template itself says is
    converted; the values it inserts (the articles' text) are untouched."""

    def __init__(self, language: str) -> None:
        super().__init__(TEMPLATES)
        self.language = language

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        return fixed_source(source, self.language), filename, uptodate


@cache
def environment(language: str = DEFAULT_LANGUAGE) -> Environment:
    """The Jinja2 environment over the repository's ``templates/`` folder, for pages declaring
    ``language`` (``site.language``): ``lang`` in the templates, their fixed words written its way."""
    loader: BaseLoader = (
        FileSystemLoader(TEMPLATES) if language == DEFAULT_LANGUAGE else _FixedWordsLoader(language)
    )
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        # Templates change only with a new release (and a new release rebuilds everything); checking
        # their mtimes on every page was a stat per page.
        auto_reload=False,
    )
    env.filters["cn_date"] = cn_date
    # A fixed word that reaches the template as a value (an article kind's name): converted like its own.
    env.filters["words"] = partial(fixed_words, tag=language)
    # The feeds' media types, from the one place that knows them (``<link rel="alternate">``), and the
    # notice of an empty digest, which its feed entry repeats.
    env.globals.update(
        atom_type=ATOM_TYPE, json_feed_type=JSON_FEED_TYPE, no_articles=fixed_words(NO_ARTICLES, language)
    )
    env.globals.update(lang=language, og_locale=og_locale(language))
    return env


def render(template: str, page: Any) -> bytes:
    """One page's HTML as UTF-8 bytes; ``page`` is the template's context dataclass, written in the
    language of its chrome (``site.language``)."""
    # A context without chrome is no page: the default environment lets StrictUndefined name what is missing.
    language = getattr(getattr(page, "chrome", None), "language", DEFAULT_LANGUAGE)
    return environment(language).get_template(template).render(page=page).encode("utf-8")
