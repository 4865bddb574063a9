"""Pelican building the same archive as Markdown with category feeds: a full build and one new article.

    python benchmarks/bench_pelican.py --articles 1000

Pelican is a peer, not a dependency: it is installed from PyPI into its own
virtual environment under ``benchmarks/.peers/pelican`` on first use.  Our
parser splits the generated pages into articles once; each becomes a
Markdown file with its title, date, section (Pelican's category) and
byline.  Settings match what we publish: an all-articles Atom feed and one
per category, 50 entries a feed, 50 articles a listing page, and Pelican's
content cache on, which is what makes its rebuilds incremental.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import venv
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_archive import WORK, folders
from corpus import PAGES_PER_ISSUE, page_count, page_name, pages, write_archive

from digest.paper.dating import DatingRules, from_name
from digest.paper.parse import parse_page
from digest.types import Article

PEERS = Path(__file__).resolve().parent / ".peers"
PELICAN = "pelican[markdown]>=4.9"

SETTINGS = """\
AUTHOR = "Bench"
SITENAME = "Bench"
SITEURL = ""
TIMEZONE = "Asia/Shanghai"
DEFAULT_LANG = "zh"
PATH = "content"
FEED_DOMAIN = "http://127.0.0.1"
FEED_ALL_ATOM = "feeds/all.atom.xml"
CATEGORY_FEED_ATOM = "feeds/{slug}.atom.xml"
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
FEED_MAX_ITEMS = 50
DEFAULT_PAGINATION = 50
RELATIVE_URLS = True
CACHE_CONTENT = True
LOAD_CONTENT_CACHE = True
CACHE_PATH = "cache"
"""


def pelican_bin() -> Path:
    """The ``pelican`` command of the peers' environment, created on first use."""
    env = PEERS / "pelican"
    command = env / "bin" / "pelican"
    if not command.exists():
        venv.create(env, with_pip=True, clear=True)
        subprocess.run([env / "bin" / "pip", "install", "-q", PELICAN], check=True)
    return command


def articles(text: str, stem: str) -> list[tuple[str, date, Article]]:
    """One page's articles, each with its slug (the page and the position) and its issue date."""
    dated = from_name(stem, DatingRules())
    assert dated is not None, f"{stem} carries no date"
    issue = dated.day
    return [
        (f"{stem}-{number}", issue, article) for number, article in enumerate(parse_page(text).articles, 1)
    ]


def markdown(text: str, stem: str) -> list[tuple[str, str]]:
    """One page's articles as ``(file name, Markdown)`` with Pelican's metadata lines."""
    files = []
    for slug, issue, article in articles(text, stem):
        meta = [
            f"Title: {article.title or article.body[:20]}",
            f"Date: {issue} 06:00",
            f"Category: {article.section or '其他'}",
            f"Slug: {slug}",
        ]
        if article.credits:
            meta.append(f"Authors: {', '.join(credit.name for credit in article.credits)}")
        files.append((f"{slug}.md", "\n".join(meta) + "\n\n" + article.body + "\n"))
    return files


def export(
    pages_dir: Path, content: Path, write: Callable[[str, str], list[tuple[str, str]]] = markdown
) -> int:
    """Write every article of the page archive as Markdown files made by ``write`` (once per size);
    returns the count."""
    marker = content / ".complete"
    if marker.is_file():
        return int(marker.read_text())
    shutil.rmtree(content, ignore_errors=True)
    count = 0
    for page in sorted(pages_dir.rglob("*.txt")):
        folder = content / page.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in write(page.read_text(encoding="utf-8"), page.stem):
            (folder / name).write_text(text, encoding="utf-8")
            count += 1
    marker.write_text(f"{count}\n")
    return count


def build(site: Path) -> float:
    """Seconds for one ``pelican`` run in ``site``."""
    started = time.perf_counter()
    subprocess.run(
        [pelican_bin(), "content", "-o", "output", "-s", "pelicanconf.py", "-q"],
        cwd=site,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def measure(articles: int, work: Path = WORK, rebuild: bool = True) -> dict[str, Any]:
    """A full build from nothing (no output, no cache), then (``rebuild``) a rebuild after one new page."""
    pages_dir, _ = folders(articles, work)
    write_archive(pages_dir, articles)
    site = work / f"pelican-{articles}"
    count = export(pages_dir, site / "content")
    (site / "pelicanconf.py").write_text(SETTINGS)
    pelican_bin()
    shutil.rmtree(site / "output", ignore_errors=True)
    shutil.rmtree(site / "cache", ignore_errors=True)
    new = site / "content" / "new"
    shutil.rmtree(new, ignore_errors=True)
    full = build(site)
    if not rebuild:
        files = sum(1 for path in (site / "output").rglob("*") if path.is_file())
        return {"articles": count, "output_files": files, "full_seconds": full}
    # The same new page as bench_archive adds; its articles are the "one new page" of a rebuild.
    stem = Path(page_name(page_count(articles) + PAGES_PER_ISSUE)).stem
    new.mkdir()
    for name, text in markdown(next(pages(seed=2, count=1)), stem):
        (new / name).write_text(text, encoding="utf-8")
    incremental = build(site)
    shutil.rmtree(new)
    files = sum(1 for path in (site / "output").rglob("*") if path.is_file())
    return {"articles": count, "output_files": files, "full_seconds": full, "new_page_seconds": incremental}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000, help="archive size")
    parser.add_argument("--work", type=Path, default=WORK, help="where pages and output go")
    parser.add_argument(
        "--no-rebuild", action="store_true", help="the full build only (at 100k each build takes minutes)"
    )
    args = parser.parse_args()
    print(json.dumps(measure(args.articles, args.work, not args.no_rebuild), indent=2))


if __name__ == "__main__":
    main()
