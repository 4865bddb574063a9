"""What an operator installs: the systemd unit (sandbox, readiness, watchdog), the lock file, the release.

The unit is judged by systemd's own ``systemd-analyze security``; readiness
and the watchdog by a real ``digest serve`` talking to a notification socket
the way systemd listens to it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest
from loopback import free_port, wait_for
from test_cli import EXAMPLES, digest
from test_service import Serve, page

import digest as package
from digest.config import read_config
from digest.web.limits import KEEP_ALIVE_SECONDS

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "digest.service"


def test_the_unit_is_sandboxed_to_systemds_ok_level() -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", str(UNIT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    level = re.search(r"Overall exposure level for digest\.service: ([\d.]+)", result.stdout)
    assert level, result.stdout + result.stderr
    assert float(level.group(1)) <= 2.5, result.stdout


def test_the_unit_sets_its_own_folders_and_tolerates_a_missing_page_folder() -> None:
    unit = UNIT.read_text()
    assert "Type=notify" in unit and re.search(r"^WatchdogSec=\d+", unit, re.MULTILINE)
    assert "ReadOnlyPaths=-/srv/pages" in unit  # "-": digest reports a missing folder itself
    env = re.search(r"^Environment=(.+)$", unit, re.MULTILINE)
    assert env is not None
    paths = dict(item.split("=", 1) for item in env.group(1).split())
    assert paths["DIGEST_PATHS_DATA"] == "/var/lib/digest" and "StateDirectory=digest" in unit
    assert paths["DIGEST_PATHS_OUTPUT"] == "/var/cache/digest" and "CacheDirectory=digest" in unit
    assert re.search(r"^LimitNOFILE=\d{5,}", unit, re.MULTILINE)


def test_the_install_steps_give_commands_run_by_hand_the_folders_of_the_service(tmp_path: Path) -> None:
    # The unit sets the folders for the service alone; the documented `digest status --config
    # /etc/digest/config.toml` run by hand would otherwise look beside the config file.
    unit = UNIT.read_text()
    env = re.search(r"^Environment=(.+)$", unit, re.MULTILINE)
    assert env is not None
    service = dict(item.split("=", 1) for item in env.group(1).split())
    (by_hand,) = re.findall(r"^#   (sudo -u digest .*)$", unit, re.MULTILINE)
    config_path = "/etc/digest/config.toml"
    assert by_hand.endswith(f"status --config {config_path}") and f"serve --config {config_path}" in unit
    installed = tmp_path / "config.toml"
    shutil.copy(ROOT / "config.toml", installed)
    for step in re.findall(r"^#   (sed -i .*)$", unit, re.MULTILINE):
        subprocess.run(["sh", "-c", step.replace(config_path, str(installed))], check=True)
    config = read_config(installed)
    assert str(config.paths.source) == service["DIGEST_PATHS_SOURCE"]
    assert str(config.paths.data) == service["DIGEST_PATHS_DATA"]
    assert str(config.paths.output) == service["DIGEST_PATHS_OUTPUT"]


def test_serve_tells_systemd_it_is_ready_pings_the_watchdog_and_says_it_stops(tmp_path: Path) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify"))
    listener.settimeout(60)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    env |= {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "400000"}
    argv = ["serve", "--port", str(port), "--source", str(EXAMPLES), "--data", str(tmp_path / "data")]
    process = subprocess.Popen(
        [sys.executable, "-m", "digest.cli", *argv, "--output", str(tmp_path / "out")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        said = [listener.recv(4096).decode()]
        while not said[-1].startswith("READY=1"):
            said.append(listener.recv(4096).decode())
        # Ready means HTTP answers at once; STATUS= tells whether start-up (migrate, first publish) runs.
        ready, status = said[-1].splitlines()
        assert ready == "READY=1" and status.startswith(("STATUS=serving", "STATUS=starting: ")), said
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code in (200, 503)
        while "STATUS=serving" not in said[-1]:
            said.append(listener.recv(4096).decode())
        assert next(m for m in said if m.startswith("STATUS=")) == "STATUS=starting: migrating the database"
        assert httpx.get(f"http://127.0.0.1:{port}/feeds/all.atom", timeout=5).status_code == 200
        pings = [listener.recv(4096).decode() for _ in range(3)]  # every 0.2 s
        assert pings == ["WATCHDOG=1"] * 3
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while (message := listener.recv(4096).decode()) == "WATCHDOG=1":
            assert time.monotonic() < deadline
        assert message == "STOPPING=1"
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        listener.close()


# The PostgreSQL client each Debian release of the image's base ships (pg_dump refuses a newer server).
DEBIAN_POSTGRESQL = {"bookworm": 15, "trixie": 17}


def test_the_image_can_back_up_the_postgresql_database_compose_runs_it_with() -> None:
    """deploy/docker-compose.yml says to back up with `digest backup` inside the container, which for
    PostgreSQL runs pg_dump (and `restore` pg_restore): before, the image had neither."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    compose = (ROOT / "deploy" / "docker-compose.yml").read_text()
    assert "exec digest digest backup" in compose
    (install,) = re.findall(r"apt-get install -y --no-install-recommends ([^\\&\n]+)", dockerfile)
    assert "postgresql-client" in install.split()
    base = re.search(r"^FROM python:[\d.]+-slim-(\w+)", dockerfile, re.MULTILINE)
    server = re.search(r"image: postgres:(\d+)", compose)
    assert base and server
    assert int(server.group(1)) <= DEBIAN_POSTGRESQL[base.group(1)], "pg_dump older than the server"


def test_the_lock_file_pins_every_dependency_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = (ROOT / "deploy" / "requirements.lock").read_text()
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", lock, re.MULTILINE))
    names = {re.sub(r"[-_.]+", "-", name).lower() for name in pins}
    for requirement in project["dependencies"]:
        name = re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", requirement).group()).lower()  # type: ignore[union-attr]
        assert name in names, f"{requirement} is not in deploy/requirements.lock; run deploy/lock.sh"
    for block in lock.split("\n\n"):
        if "==" in block:
            assert "--hash=sha256:" in block, block


def test_one_version_for_the_package_the_command_and_the_changelog(tmp_path: Path) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["dynamic"] == ["version"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "digest.__version__"}
    assert pyproject["project"]["license"] == "MIT"  # SPDX, not the table setuptools stops reading in 2027
    assert all("==" in requirement for requirement in pyproject["build-system"]["requires"])
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+|rc\d+)?", package.__version__)
    printed = digest("--version", cwd=tmp_path)
    assert printed.stdout.strip() == f"digest {package.__version__}"
    changelog = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## (\S+)", changelog, re.MULTILINE)
    released = package.__version__.split(".dev")[0]
    # A development version sits under "Unreleased"; a release has its own heading.
    assert headings[0] == ("Unreleased" if ".dev" in package.__version__ else released)
    assert "### Upgrading" in changelog


FORM = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://news.example"}
# `user root`: workers that may write the cache under the test's private temporary folder (ignored,
# with a warning in the log, when the tests do not run as root).
NGINX_MAIN = """\
daemon off;
user root;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log {tmp}/access.log;  # as Debian's nginx.conf has it: the "combined" format
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
{site}
}}
"""


def shipped_nginx_site(upstream: int, port: int, tmp: Path) -> str:
    """deploy/nginx.conf as shipped, with only what a test machine must change: ports, the cache and
    log folders (into ``tmp``), no TLS."""
    site = (ROOT / "deploy" / "nginx.conf").read_text()
    site = site.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream};")
    site = site.replace("/var/cache/nginx/digest", str(tmp / "c"))
    site = site.replace("/var/log/nginx/", f"{tmp}/")
    site = re.sub(
        r"server \{\s*listen 80;.*?\n\}\n", "", site, count=1, flags=re.DOTALL
    )  # the https redirect
    site = re.sub(r"listen 443 ssl http2;", f"listen 127.0.0.1:{port};", site)
    return "\n".join(line for line in site.splitlines() if not re.match(r"\s*(listen \[::\]|ssl_)", line))


def start_shipped_nginx(tmp_path: Path, service: Serve) -> tuple[subprocess.Popen[bytes], httpx.Client]:
    """The real nginx with the shipped config in front of ``service``, started, and a client of it."""
    try:
        return run_shipped_nginx(tmp_path, service.port, ready=200)
    except BaseException:
        service.stop()
        raise


def run_shipped_nginx(
    tmp_path: Path, upstream: int, ready: int
) -> tuple[subprocess.Popen[bytes], httpx.Client]:
    """The real nginx with the shipped config in front of port ``upstream``, started (its /healthz
    answers ``ready``: 502 while nothing listens there), and a client of it."""
    if shutil.which("nginx") is None:
        pytest.skip("nginx is not installed (apt-get install nginx)")
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_MAIN.format(tmp=tmp_path, site=shipped_nginx_site(upstream, port, tmp_path)))
    log = tmp_path / "error.log"
    proxy = subprocess.Popen(["nginx", "-c", str(conf), "-e", str(log)], stderr=subprocess.DEVNULL)
    front = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5)
    try:
        wait_for(lambda: _answers(front, proxy, log, ready), 20, "nginx to start")
    except BaseException:
        proxy.terminate()
        raise
    return proxy, front


def test_nginx_lets_go_of_an_idle_upstream_connection_before_digest_closes_it() -> None:
    # Else a request nginx sends on a connection digest is closing fails with 502 (a POST is not retried).
    shipped = (ROOT / "deploy" / "nginx.conf").read_text()
    upstream = re.search(r"upstream digest \{(.*?)\}", shipped, re.DOTALL)
    assert upstream is not None
    idle = re.search(r"keepalive_timeout (\d+)s;", upstream.group(1))
    assert idle is not None, "the upstream block keeps nginx's default of 60 s"
    assert int(idle.group(1)) < KEEP_ALIVE_SECONDS


@pytest.mark.slow
def test_the_shipped_nginx_config_never_serves_a_stale_feed_nor_caches_metrics(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(EXAMPLES, pages)
    service = Serve(tmp_path, pages)
    proxy, front = start_shipped_nginx(tmp_path, service)
    try:
        assert "青松县首座社区图书馆开馆" in front.get("/feeds/all.atom").text
        for path in ("/feeds/all.atom", "/feeds/all.json", "/feeds.opml", "/feeds.opml"):  # cached too
            cors = front.get(path).headers.get_list("access-control-allow-origin")
            assert cors == ["*"], (path, cors)  # exactly once: two copies make browsers refuse it
        browser = front.get("/feeds/all.atom", headers={"accept": "text/html,application/xml;q=0.9"})
        assert browser.headers["content-type"] == "application/xml; charset=utf-8"
        assert front.get("/favicon.ico").status_code == 200
        assert front.get("/index.html").headers["x-cache"] == "MISS"  # pages do go through the cache
        (pages / "2024-11-29_01.txt").write_text(page("代理之后立刻可见的新文章"), encoding="utf-8")
        wait_for(lambda: "代理之后立刻可见的新文章" in service.feed(), 20, "the page in digest's feed")
        assert "代理之后立刻可见的新文章" in front.get("/feeds/all.atom").text  # no stale copy in front
        searched = front.get("/search", params={"q": "图书馆"})  # answered by digest, never cached
        assert "<mark>图书馆</mark>" in searched.text and "x-cache" not in searched.headers
        # A form past digest's 16 KB goes through to digest, whose 413 page says why in words.
        huge = front.post("/subscribe", content=b"email=" + b"a" * 100 * 1024, headers=FORM)
        assert huge.status_code == 413 and "提交的内容太长" in huge.text, huge.text[:300]
        for path in ("/metrics", "/metrics/"):
            scraped = front.get(path)
            assert "x-cache" not in scraped.headers, f"{path} went through the cached location"
        details = front.get("/healthz?details")
        assert details.status_code == 401 and front.get("/healthz").json()["status"] in ("ok", "degraded")
        # nginx forwards the client's Host, so digest refuses a name not its own (DNS rebinding),
        # and its 421 (no-store) is not cached for the readers who come by the site's own name.
        for path in ("/subscribe", "/digests/index.html"):
            assert front.get(path, headers={"Host": "rebind.example"}).status_code == 421, path
            assert front.get(path).status_code == 200, path
        # Nor is a page cached for the site's own name served to another (a second server_name
        # that digest refuses): the key holds the Host, so the name gets digest's own answer.
        assert front.get("/digests/index.html").headers["x-cache"] == "HIT"
        assert front.get("/digests/index.html", headers={"Host": "www.news.example"}).status_code == 421
        for near, page_path in (
            ("/sections/yao-wen", "/sections/yao-wen.html"),
            ("/sections/yao-wen/", "/sections/yao-wen.html"),
            ("/digests/index?x=1", "/digests/index.html?x=1"),  # as /digests/<day> is
            ("/issues/2024-11-28", "/issues/2024-11-28/"),
            ("/issues", "/issues/"),  # by digest serve, through the proxy
        ):
            moved = front.get(near)
            assert moved.status_code == 301 and moved.headers["location"].endswith(page_path), near
            assert front.get(page_path).status_code == 200, page_path
        for missing in ("/no/such/page", "/sections/nope.html", "/404.html/x"):
            lost = front.get(missing)
            assert lost.status_code == 404 and lost.headers["content-type"].startswith("text/html"), missing
            assert "找不到这个页面" in lost.text and 'href="/issues/index.html"' in lost.text, missing
    finally:
        front.close()
        proxy.terminate()
        proxy.wait(10)
        assert service.stop() == 0


def _answers(client: httpx.Client, process: subprocess.Popen[bytes], log: Path, status: int) -> bool:
    assert process.poll() is None, log.read_text()
    try:
        return client.get("/healthz").status_code == status
    except httpx.TransportError:
        return False


@pytest.mark.slow
def test_the_shipped_nginx_config_logs_no_subscription_token(tmp_path: Path) -> None:
    """A link's token is the key to its subscription: neither nginx's access log nor its error log
    may hold one, however the link is asked for, and a rejection by the rate limit is no exception."""
    pages = tmp_path / "pages"
    shutil.copytree(EXAMPLES, pages)
    service = Serve(tmp_path, pages)
    proxy, front = start_shipped_nginx(tmp_path, service)
    tokens = [f"linkKey{n}.675a1b2{n}.{'Q' * 21}{n}" for n in range(5)]
    try:
        assert front.get(f"/confirm/{tokens[0]}").status_code == 400  # no such link: digest says so
        one_click = front.post(
            f"/unsubscribe/{tokens[1]}?via=mail",
            content=b"List-Unsubscribe=One-Click",
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"https://news.example.org/preferences/{tokens[2]}",
            },
        )
        assert one_click.status_code == 400
        assert front.get(f"/CONFIRM/{tokens[3]}").status_code == 404  # a mangled link is masked too
        limited = [front.get(f"/confirm/{tokens[4]}").status_code for _ in range(10)]
        assert 429 in limited  # nginx's limit_req, which would write the request into the error log
    finally:
        front.close()
        proxy.terminate()
        proxy.wait(10)
        assert service.stop() == 0
    logs = {path.name: path.read_text() for path in tmp_path.glob("*.log")}
    assert [(name, t) for name, text in logs.items() for t in tokens if t in text] == [], logs
    masked = logs["digest.access.log"]
    assert '"GET /confirm/[token] HTTP/1.1" 400 ' in masked
    assert '"POST /unsubscribe/[token]?via=mail HTTP/1.1" 400 ' in masked
    assert '"https://news.example.org/preferences/[token]"' in masked
    assert '"GET /CONFIRM/[token] HTTP/1.1" 404 ' in masked
    assert '"GET /confirm/[token] HTTP/1.1" 429 ' in masked
    assert re.search(r'"GET /healthz HTTP/1\.1" 200 \d+ "-" "python-httpx/', masked)  # as "combined" has it


@pytest.mark.slow
def test_the_shipped_nginx_config_logs_no_token_while_digest_is_down(tmp_path: Path) -> None:
    """While digest is down, every request nginx cannot pass on is an error-log line, in a format no
    configuration changes, quoting the request line and the upstream URL: a link's token with them."""
    # Upstream, a port bound here and never listening: every connection is refused.  A port merely free
    # a moment ago could be taken by a server of a test running beside, or drawn by nginx as the source
    # port of its own connection, which then connects to itself.
    with socket.socket() as upstream:
        upstream.bind(("127.0.0.1", 0))
        proxy, front = run_shipped_nginx(tmp_path, upstream.getsockname()[1], ready=502)
        tokens = [f"downKey{n}.675a1b2{n}.{'R' * 21}{n}" for n in range(4)]
        try:
            asked = [
                front.get(f"/confirm/{tokens[0]}"),
                front.post(
                    f"/unsubscribe/{tokens[1]}?via=mail", content=b"List-Unsubscribe=One-Click", headers=FORM
                ),
                front.get(f"/preferences/{tokens[2]}"),
                front.get(f"/Unsubscribe/{tokens[3]}"),  # a link a mail client changed the case of
            ]
            assert [answer.status_code for answer in asked] == [502] * 4
        finally:
            front.close()
            proxy.terminate()
            proxy.wait(10)
    logs = {path.name: path.read_text() for path in tmp_path.glob("*.log")}
    assert [(name, t) for name, text in logs.items() for t in tokens if t in text] == [], logs
    # The outage is still in the error log (the readiness checks of /healthz), and each link's 502
    # in the access log.
    assert re.search(
        r"\[error\].* while connecting to upstream.*\"GET /healthz HTTP/1\.1\"", logs["error.log"]
    )
    masked = logs["digest.access.log"]
    assert '"GET /confirm/[token] HTTP/1.1" 502 ' in masked
    assert '"POST /unsubscribe/[token]?via=mail HTTP/1.1" 502 ' in masked
