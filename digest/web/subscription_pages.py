"""The subscription pages: what each template receives, and the site chrome around them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from digest.config import Config
from digest.language import fixed_words
from digest.mail.tokens import FORM_KEY, Purpose, sign
from digest.publish.chrome import Chrome, Link, make_chrome, site_nav
from digest.publish.items import all_spec
from digest.publish.layout import ALL_FEED, INDEX, UNSUBSCRIBE_PATH, feed_path, root_prefix
from digest.publish.templates import render
from digest.types import Section


@dataclass(frozen=True)
class SectionChoice:
    """One checkbox of the sections form."""

    name: str
    slug: str
    checked: bool


@dataclass(frozen=True)
class SubscribeForm:
    """``subscription/form.html``: the sign-up form; ``error`` explains a refused attempt."""

    chrome: Chrome
    action: str
    form_token: str
    email: str
    sections: tuple[SectionChoice, ...]
    error: str


@dataclass(frozen=True)
class PreferencesForm:
    """``subscription/preferences.html``: a subscriber's sections, and the way out."""

    chrome: Chrome
    email: str
    action: str
    unsubscribe_action: str
    form_token: str
    unsubscribe_token: str
    sections: tuple[SectionChoice, ...]
    saved: bool
    welcome: bool  # just confirmed
    note: str = ""  # why the form is shown again unsaved (``forms.again``)


@dataclass(frozen=True)
class ActionPage:
    """``subscription/action.html``: one sentence and one button (confirm, unsubscribe)."""

    chrome: Chrome
    heading: str
    text: str
    button: str
    action: str
    form_token: str
    note: str = ""  # why the page is shown again (``forms.again``)


@dataclass(frozen=True)
class MessagePage:
    """``subscription/message.html``: the outcome of a request, or why it failed."""

    chrome: Chrome
    heading: str
    text: str
    links: tuple[Link, ...]


def root_of(path: str) -> str:
    """The relative prefix from a subscription page back to the site's root."""
    return root_prefix(path.lstrip("/"))


def leaf_of(path: str) -> str:
    """The last segment: a form on a page posts back to the page, relatively."""
    return path.rsplit("/", 1)[-1]


class Pages:
    """Draws the subscription pages of one site: chrome, messages, one-button actions, form tokens.

    ``sections`` gives the sections the navigation lists (the app's last read of the store).
    """

    def __init__(
        self,
        config: Config,
        secret: str,
        clock: Callable[[], datetime],
        sections: Callable[[], Sequence[Section]] = tuple,
    ) -> None:
        self._config = config
        self._secret = secret
        self._clock = clock
        self._sections = sections

    def chrome(self, path: str, title: str) -> Chrome:
        """The site's chrome around the subscription page at ``path``: the same navigation as
        every published page, with the sections last read from the store."""
        root = root_of(path)
        language = self._config.site.language
        nav = site_nav(root, self._sections(), language)
        feeds = (Link(all_spec(self._config).title, root + feed_path(ALL_FEED)),)
        return make_chrome(self._config.site.title, self.words(title), root, nav, feeds, language=language)

    def words(self, text: str) -> str:
        """The pages' own words (headings, messages; never a reader's or a paper's text) as
        ``site.language`` writes them."""
        return fixed_words(text, self._config.site.language)

    def message(self, path: str, heading: str, text: str, links: tuple[Link, ...] = ()) -> bytes:
        """The page at ``path`` telling the outcome of a request (or why it failed), with ``links``
        onward; without them, one back to the site's front page."""
        root = root_of(path)
        links = tuple(Link(self.words(link.label), link.href) for link in links)
        return render(
            "subscription/message.html",
            MessagePage(
                self.chrome(path, heading),
                self.words(heading),
                self.words(text),
                links or (Link(self.words("返回首页"), root + INDEX),),
            ),
        )

    def too_large(self, path: str, limit: int) -> bytes:
        """Why the form posted to ``path`` was refused: longer than ``limit`` bytes."""
        text = (
            f"提交的内容超过了 {limit // 1024} KB 的上限，这次提交没有生效。"
            "请返回表单，检查填写的内容（例如是否误粘贴了大段文字）后重新提交。"
        )
        return self.message(path, "提交的内容太长", text, (Link("返回表单", leaf_of(path)),))

    def action(self, path: str, verb: str, question: str, note: str = "") -> bytes:
        """A page asking ``question`` with one button, ``verb``, that POSTs back to this page;
        ``note`` says why it is shown again."""
        page = ActionPage(
            chrome=self.chrome(path, verb),
            heading=self.words(verb),
            text=self.words(question),
            button=self.words(verb),
            action=leaf_of(path),
            form_token=self.form_token(path),
            note=self.words(note),
        )
        return render("subscription/action.html", page)

    def form_token(self, path: str) -> str:
        """A fresh signed token for the form that posts to ``path`` (CSRF, ``digest.mail.tokens``)."""
        return sign(self._secret, Purpose.FORM, FORM_KEY, self._clock(), path)

    def subscribe_form(self, path: str, email: str, chosen: Iterable[str], error: str) -> bytes:
        """The sign-up form at ``path``, filled in with ``email`` and the ``chosen`` sections;
        ``error`` says why it is shown again."""
        page = SubscribeForm(
            chrome=self.chrome(path, "订阅每日摘要"),
            action=leaf_of(path),
            form_token=self.form_token(path),
            email=email,
            sections=self.choices(chosen),
            error=self.words(error),
        )
        return render("subscription/form.html", page)

    def preferences_form(
        self,
        path: str,
        token: str,
        email: str,
        chosen: Iterable[str],
        *,
        welcome: bool,
        saved: bool = False,
        note: str = "",
    ) -> bytes:
        """The preferences page at ``path`` (of the link ``token``) with the ``chosen`` sections
        ticked; ``note`` says why it is shown again."""
        unsubscribe_path = f"{UNSUBSCRIBE_PATH}/{token}"
        page = PreferencesForm(
            chrome=self.chrome(path, "订阅设置"),
            email=email,
            action=leaf_of(path),
            unsubscribe_action=root_of(path) + unsubscribe_path[1:],
            form_token=self.form_token(path),
            unsubscribe_token=self.form_token(unsubscribe_path),
            sections=self.choices(chosen),
            saved=saved,
            welcome=welcome,
            note=self.words(note),
        )
        return render("subscription/preferences.html", page)

    def choices(self, chosen: Iterable[str]) -> tuple[SectionChoice, ...]:
        """A checkbox for each section, ticked for the ``chosen`` ones."""
        picked = set(chosen)
        return tuple(SectionChoice(s.name, s.slug, s.slug in picked) for s in self._sections())
