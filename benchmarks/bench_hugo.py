"""Hugo building the same archive: a full build, and a rebuild after one new page.

    python benchmarks/bench_hugo.py --articles 1000

Hugo is a peer, not a dependency: Debian's ``hugo`` (installed here with
apt-get when missing and run as root).  Our parser splits the generated pages
into articles once (``bench_pelican.articles``); each becomes a Markdown file
with its title, issue date, section (a Hugo category) and authors.  The site
has what we publish, as far as Hugo has it: an HTML page per article, a
paginated HTML list per section and for the front page (50 a page), and a
full-content Atom feed per section and for the whole site, paginated the
same way with ``prev-archive`` links (Hugo knows no RFC 5005, so its archive
pages are numbered pages of the same feed).  The figures are wall and CPU
seconds of the ``hugo`` process, as ``bench_archive`` reports ours.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_archive import WORK, folders
from bench_pelican import articles, export
from corpus import PAGES_PER_ISSUE, page_count, page_name, pages, write_archive

CONFIG = """\
baseURL = "http://127.0.0.1/"
languageCode = "zh-cn"
title = "Bench"
paginate = 50
ignoreErrors = ["error-disable-taxonomy"]
disableKinds = ["taxonomy", "RSS", "sitemap", "robotsTXT", "404"]
[taxonomies]
category = "categories"
[mediaTypes."application/atom+xml"]
suffixes = ["atom"]
[outputFormats.Atom]
mediaType = "application/atom+xml"
baseName = "index"
isPlainText = true
[outputs]
home = ["HTML", "Atom"]
term = ["HTML", "Atom"]
section = ["HTML"]
"""

ARTICLE = """\
<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{{ .Title }}</title>
<link rel="stylesheet" href="/style.css"></head>
<body><article><h1>{{ .Title }}</h1>
<p>{{ .Date.Format "2006-01-02" }} {{ delimit .Params.authors "、" }}</p>
{{ .Content }}</article></body></html>
"""

LIST = """\
<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{{ .Title }}</title>
<link rel="stylesheet" href="/style.css"></head>
<body><h1>{{ .Title }}</h1><ul>{{ range .Paginator.Pages }}
<li><a href="{{ .RelPermalink }}">{{ .Title }}</a> {{ .Date.Format "2006-01-02" }}</li>{{ end }}</ul>
{{ with .Paginator.Prev }}<a href="{{ .URL }}">上一页</a>{{ end }}
{{ with .Paginator.Next }}<a href="{{ .URL }}">下一页</a>{{ end }}</body></html>
"""

# A plain-text template: Hugo escapes nothing, so every text field is escaped here.
ATOM = """\
<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="zh-CN">
<title>{{ .Title | htmlEscape }}</title><id>{{ .Permalink }}</id>
<updated>{{ .Lastmod.Format "2006-01-02T15:04:05-07:00" }}</updated><author><name>Bench</name></author>
<link rel="self" href="{{ .Paginator.URL | absURL }}"/>
{{ with .Paginator.Next }}<link rel="prev-archive" href="{{ .URL | absURL }}"/>{{ end }}
{{ range .Paginator.Pages }}<entry><title>{{ .Title | htmlEscape }}</title><id>{{ .Permalink }}</id>
<link href="{{ .Permalink }}"/><published>{{ .Date.Format "2006-01-02T15:04:05-07:00" }}</published>
<updated>{{ .Lastmod.Format "2006-01-02T15:04:05-07:00" }}</updated>
{{ range .Params.authors }}<author><name>{{ . | htmlEscape }}</name></author>{{ end }}
<content type="html">{{ .Content | html }}</content></entry>
{{ end }}</feed>
"""


def ensure_hugo() -> str:
    """The ``hugo`` command, installed from Debian when missing and we may (root, apt-get)."""
    found = shutil.which("hugo")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        environ = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "hugo"], check=True, env=environ)
        found = shutil.which("hugo")
    if found is None:
        raise SystemExit("hugo is not installed: apt-get install hugo")
    return found


def markdown(text: str, stem: str) -> list[tuple[str, str]]:
    """One page's articles as ``(file name, Markdown)`` with Hugo's YAML front matter."""
    files = []
    for slug, issue, article in articles(text, stem):
        title = article.title or article.body[:20]
        front = [
            "---",
            f"title: {json.dumps(title, ensure_ascii=False)}",
            f"date: {issue}T06:00:00+08:00",
            f"categories: [{json.dumps(article.section or '其他', ensure_ascii=False)}]",
            f"authors: {json.dumps([c.name for c in article.credits], ensure_ascii=False)}",
            f"slug: {slug}",
            "---",
        ]
        files.append((f"{slug}.md", "\n".join(front) + "\n\n" + article.body + "\n"))
    return files


def site(root: Path) -> None:
    """The configuration and layouts (no theme: the templates above are all Hugo renders with)."""
    (root / "hugo.toml").write_text(CONFIG)
    layouts = root / "layouts" / "_default"
    layouts.mkdir(parents=True, exist_ok=True)
    (layouts / "single.html").write_text(ARTICLE)
    (layouts / "list.html").write_text(LIST)
    (layouts / "list.atom").write_text(ATOM)


def build(root: Path) -> dict[str, float]:
    """Wall and CPU seconds (the process and its children) of one ``hugo`` run in ``root``."""
    before = os.times()
    started = time.perf_counter()
    subprocess.run([ensure_hugo(), "--quiet"], cwd=root, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return {"seconds": wall, "cpu_seconds": cpu}


def measure(articles_wanted: int, work: Path = WORK, rebuild: bool = True) -> dict[str, Any]:
    """A full build from nothing (no output), then (``rebuild``) a rebuild after one new page."""
    pages_dir, _ = folders(articles_wanted, work)
    write_archive(pages_dir, articles_wanted)
    root = work / f"hugo-{articles_wanted}"
    count = export(pages_dir, root / "content", markdown)
    site(root)
    new = root / "content" / "new"
    shutil.rmtree(new, ignore_errors=True)
    shutil.rmtree(root / "public", ignore_errors=True)
    shutil.rmtree(root / "resources", ignore_errors=True)
    full = build(root)
    result: dict[str, Any] = {
        "articles": count,
        "full_seconds": full["seconds"],
        "full_cpu_seconds": full["cpu_seconds"],
        "load_average": os.getloadavg(),
    }
    if rebuild:
        # The same new page as bench_archive adds; Hugo has no incremental build, so it renders all.
        stem = Path(page_name(page_count(articles_wanted) + PAGES_PER_ISSUE)).stem
        new.mkdir()
        for name, text in markdown(next(pages(seed=2, count=1)), stem):
            (new / name).write_text(text, encoding="utf-8")
        result["new_page_seconds"] = build(root)["seconds"]
        shutil.rmtree(new)
    public = root / "public"
    files = [path for path in public.rglob("*") if path.is_file()]
    result["output_files"] = len(files)
    result["output_bytes"] = sum(path.stat().st_size for path in files)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000, help="archive size")
    parser.add_argument("--work", type=Path, default=WORK, help="where pages and output go")
    parser.add_argument("--no-rebuild", action="store_true", help="the full build only")
    args = parser.parse_args()
    print(json.dumps(measure(args.articles, args.work, not args.no_rebuild), indent=2))


if __name__ == "__main__":
    main()
