"""The site's Jinja2 templates: where they are (in a checkout or an installed wheel), the one
environment over them, and rendering a page's context to bytes."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

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


@cache
def environment() -> Environment:
    """The Jinja2 environment over the repository's ``templates/`` folder."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
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
    # The feeds' media types, from the one place that knows them (``<link rel="alternate">``), and the
    # notice of an empty digest, which its feed entry repeats.
    env.globals.update(atom_type=ATOM_TYPE, json_feed_type=JSON_FEED_TYPE, no_articles=NO_ARTICLES)
    return env


def render(template: str, page: Any) -> bytes:
    """One page's HTML as UTF-8 bytes; ``page`` is the template's context dataclass."""
    return environment().get_template(template).render(page=page).encode("utf-8")
