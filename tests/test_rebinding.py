"""DNS rebinding: ``digest serve`` answers only requests naming one of its own hosts.

A page of a site whose name its owner points at 127.0.0.1 reaches the service from the operator's
browser as a direct loopback client, with that site's name in ``Host`` (``digest.web.hosts``).
The service is the real one, reached over HTTP with the ``Host`` header such a browser sends.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import sync_playwright
from test_browser import CHROMIUM, FLAGS
from test_cli import EXAMPLES
from test_service import Serve

from digest.config import read_config
from digest.config_checks import value_problems
from digest.web.hosts import HostNames, host_name, misdirected_page

FOREIGN = "rebind.example"
FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def test_digest_serve_answers_a_rebound_name_with_421_and_its_own_names_as_ever(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(EXAMPLES, pages)
    settings = {"DIGEST_SITE_BASE_URL": "https://news.example", "DIGEST_SERVER_ALLOWED_HOSTS": "nas"}
    service = Serve(tmp_path, pages, settings=settings)
    port = service.port
    try:
        http = service.http

        def get(path: str, host: str) -> httpx.Response:
            return http.get(path, headers={"Host": host})

        # What a rebinding page's script would read or do, from the operator's own browser.
        reads = ("/healthz?details", "/metrics", "/subscribe", "/", "/feeds/all.atom", "/search?q=图书馆")
        for path in reads:
            refused = get(path, f"{FOREIGN}:{port}")
            assert refused.status_code == 421, (path, refused.status_code, refused.text[:200])
            assert "does not answer for that host name" in refused.text
        form = get("/subscribe", "127.0.0.1").text  # a token the page could not have read, even so
        (token,) = FORM_TOKEN.findall(form)
        origin = f"http://{FOREIGN}:{port}"
        signup = http.post(
            "/subscribe",
            data={"email": "victim@example.com", "form_token": token},
            headers={"Host": f"{FOREIGN}:{port}", "Origin": origin},
        )
        assert signup.status_code == 421
        assert "victim@example.com" not in service.run("subscribers", "list").stdout
        assert get("/healthz", FOREIGN).json() == {"status": "ok"}  # load balancers' probes, status only
        # Its own names: site.base_url's (any case, a final dot, any port: a proxy sends none),
        # server.allowed_hosts, localhost, and any IP address, which no DNS answer can rebind.
        for host in ("news.example", "NEWS.example.", "news.example:443", f"nas:{port}", f"localhost:{port}"):
            assert get("/healthz?details", host).json()["articles"] > 0, host
        for host in (f"127.0.0.1:{port}", f"[::1]:{port}", "192.0.2.7"):
            assert get("/subscribe", host).status_code == 200, host
        for near_miss in ("127.0.0.1", "localhost", "news.example", "nas"):
            assert get("/", f"{near_miss}.{FOREIGN}").status_code == 421, near_miss
    finally:
        assert service.stop() == 0
    refusals = [line for line in service.lines if "naming host" in line]
    # One warning per name, saying what to do if the name is the operator's own.
    assert len([line for line in refusals if f"'{FOREIGN}'" in line]) == 1, refusals
    assert "WARNING" in refusals[0] and "server.allowed_hosts" in refusals[0]


# What the rebound page's script does, in its own origin: read the operator's health report, and
# sign an address up with a form token it read from the form.
ATTACK = """async () => {
    const details = await fetch("/healthz?details");
    const form = await (await fetch("/subscribe")).text();
    const token = (form.match(/name="form_token" value="([^"]+)"/) || [])[1] || "";
    const body = new URLSearchParams({email: "victim@example.com", form_token: token});
    const signup = await fetch("/subscribe", {method: "POST", body});
    return [details.status, await details.text(), signup.status];
}"""


@pytest.mark.slow
def test_a_page_of_a_rebound_name_reads_nothing_in_chromium(tmp_path: Path) -> None:
    """Chromium resolving the attacker's name to 127.0.0.1, as a rebinding DNS server makes it do; the
    attacker's page is played by a document of that name's origin with no CSP of ours (the bare
    ``/healthz``, which any name gets), its script by ``evaluate``."""
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    pages = tmp_path / "pages"
    shutil.copytree(EXAMPLES, pages)
    service = Serve(tmp_path, pages)
    rules = f"--host-resolver-rules=MAP {FOREIGN} 127.0.0.1"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[*FLAGS, rules])
            page = browser.new_page()
            stand_in = page.goto(f"http://{FOREIGN}:{service.port}/healthz")
            assert stand_in is not None and stand_in.status == 200
            details_status, details, signup_status = page.evaluate(ATTACK)
            assert (details_status, signup_status) == (421, 421), details
            rebound = page.goto(f"http://{FOREIGN}:{service.port}/")  # an intranet site's pages
            assert rebound is not None and rebound.status == 421
            own = page.goto(f"http://localhost:{service.port}/")  # the operator's own name still works
            assert own is not None and own.status == 200
            browser.close()
        assert "victim@example.com" not in service.run("subscribers", "list").stdout
    finally:
        assert service.stop() == 0


@pytest.mark.parametrize(
    ("settings", "admitted", "refused"),
    [
        ({}, ["127.0.0.1:8080", "localhost", "[::1]:8080", "10.1.2.3"], ["example.org", "x.localhost"]),
        (
            {"site.base_url": "https://新闻.example/digest/"},
            ["xn--efvy88h.example", "XN--EFVY88H.EXAMPLE:443"],  # as browsers send an international name
            ["news.example"],
        ),
        ({"server.host": "digest.lan", "server.port": 8081}, ["digest.lan:8081", "digest.lan"], ["lan"]),
        ({"server.host": "0.0.0.0"}, ["192.168.1.5:8080"], ["0.0.0.0.example"]),
        ({"server.allowed_hosts": ["*"]}, ["anything.example"], []),
    ],
)
def test_the_names_a_configuration_answers_for(
    settings: dict[str, object], admitted: list[str], refused: list[str]
) -> None:
    hosts = HostNames.of(read_config(None, settings, {}))
    assert [host for host in admitted if not hosts.admit(host)] == []
    assert [host for host in refused if hosts.admit(host)] == []
    assert hosts.admit(None)  # HTTP/1.0 without Host: no browser


def test_host_name_reads_a_host_header_as_compared() -> None:
    assert host_name(" News.Example.:8080 ") == "news.example"
    assert host_name("[2001:DB8::1]:80") == "2001:db8::1"
    assert not HostNames.of(read_config(None, {}, {})).admit("[::1]rebind.example")  # no browser's
    assert host_name("例子.example") == "xn--fsqu00a.example"


@pytest.mark.parametrize("name", ["https://news.example", "news.example:443", "news.example/", "a b", ""])
def test_allowed_hosts_take_bare_names(name: str) -> None:
    problems = value_problems(read_config(None, {"server.allowed_hosts": [name]}, {}))
    assert [problem.key for problem in problems] == ["server.allowed_hosts"], problems
    assert value_problems(read_config(None, {"server.allowed_hosts": ["nas", "*", "digest_web"]}, {})) == []


def test_the_421_page_suggests_only_a_plain_name_and_escapes_what_it_shows() -> None:
    page = misdirected_page("NAS.lan:8080", "http").decode()
    assert 'base_url = "http://nas.lan:8080"' in page and 'allowed_hosts = ["nas.lan"]' in page
    hostile = misdirected_page('<script>alert(1)</script>"', "http").decode()
    assert "<script>" not in hostile and "&lt;script&gt;" in hostile
    assert "base_url" not in hostile  # nothing to copy that would not be read as TOML
