"""The configuration loader: precedence, path resolution, validation with one clear message."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from digest.config import Config, read_config, tables
from digest.config_checks import load_config, value_problems
from digest.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "pages").mkdir()
    return tmp_path


def test_defaults_resolve_against_the_config_folder(folder: Path) -> None:
    config = load_config(write(folder / "c.toml", 'paths.source = "pages"\n'), {}, {})
    assert config.paths.source == folder / "pages"
    assert config.paths.data == folder / "var" / "data"
    assert config.paths.output == folder / "var" / "output"
    assert config.paths.data.is_dir() and config.paths.output.is_dir()
    assert config.database_url == f"sqlite:///{folder / 'var' / 'data' / 'digest.sqlite3'}"
    assert config.digest_clock.hour == 7 and config.tz.key == "Asia/Shanghai"


def test_environment_overrides_file_and_options_override_environment(folder: Path) -> None:
    path = write(folder / "c.toml", '[paths]\nsource = "pages"\n[smtp]\nport = 25\nhost = "mail"\n')
    environ = {
        "DIGEST_SMTP_PORT": "2525",
        "DIGEST_SMTP_PASSWORD": "pw",
        "DIGEST_FEEDS_HUBS": "https://a, https://b",
    }
    config = load_config(path, {"smtp.port": 1025}, environ)
    assert config.smtp.port == 1025
    assert config.smtp.password == "pw"
    assert config.smtp.host == "mail"
    assert config.feeds.hubs == ("https://a", "https://b")


def test_option_paths_resolve_against_the_current_folder(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_dir = folder / "etc"
    config_dir.mkdir()
    monkeypatch.chdir(folder)
    config = load_config(write(config_dir / "c.toml", ""), {"paths.source": "pages"}, {})
    assert config.paths.source == folder / "pages"
    assert config.paths.data == config_dir / "var" / "data"


def test_relative_sqlite_url_resolves_against_the_config_folder(folder: Path) -> None:
    path = write(folder / "c.toml", 'paths.source = "pages"\n[database]\nurl = "sqlite:///db/x.sqlite3"\n')
    assert load_config(path, {}, {}).database_url == f"sqlite:///{folder / 'db' / 'x.sqlite3'}"


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ("[schedul]\n", "schedul", "did you mean 'schedule'"),
        ("[schedule]\ndigest_tme = '07:00'\n", "schedule.digest_tme", "did you mean 'digest_time'"),
        ("[schedule]\nscan_interval = 'often'\n", "schedule.scan_interval", "expected a whole number"),
        ("[feeds]\nhubs = 3\n", "feeds.hubs", "expected a list of strings"),
        ("[server\n", "c.toml", "not valid TOML"),
    ],
)
def test_names_and_types_are_checked(folder: Path, text: str, key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_config(write(folder / "c.toml", text), {}, {})
    assert caught.value.key.endswith(key)
    assert hint in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[server]\nport = '80a'\n",
            "server.port: expected a whole number, got '80a'; write e.g. port = 8080",
        ),
        ("[server]\nport = true\n", "server.port: expected a whole number, got true; write e.g. port = 8080"),
        (
            "[schedule]\ndigest_time = 07:30:00\n",
            "schedule.digest_time: expected a string, got 07:30:00;"
            ' put the value in quotes: digest_time = "07:30"',
        ),
        (
            "[schedule]\ndigest_time = 7\n",
            'schedule.digest_time: expected a string, got 7; put the value in quotes: digest_time = "07:00"',
        ),
        ("[dkim]\nkey_file = 5\n", "dkim.key_file: expected a file path, got 5; write a path in quotes"),
        ("title = 'x'\n[site]\n", "title: is a key outside its table; write it below the line [site]"),
        (
            "port = 8081\n",
            "port: is a key outside its table; write it below the line [smtp] or [server] or [bounces]",
        ),
    ],
    ids=[
        "port-word",
        "port-bool",
        "toml-time",
        "hour-number",
        "key-file",
        "title-above-tables",
        "port-above-tables",
    ],
)
def test_a_wrong_type_is_told_in_the_words_of_the_file(folder: Path, text: str, message: str) -> None:
    # As the operator wrote it (true, 07:30:00), not as Python spells it, with a fix that fits the key.
    with pytest.raises(ConfigError) as caught:
        read_config(write(folder / "c.toml", text), {}, {})
    assert str(caught.value) == message


LIST_KEYS = [
    f"{table}.{key}"
    for table, keys in tables().items()
    for key, kind in keys.items()
    if kind == tuple[str, ...]
]


def test_a_pattern_with_a_comma_written_as_one_string_is_refused_with_its_list_form(folder: Path) -> None:
    # Split at commas like an environment value, it became two broken regexes: (?P<p>\d{1 and 3}).
    pattern = r"(?P<y>20\d\d)-(?P<m>\d\d)-(?P<d>\d\d)_(?P<p>\d{1,3})"
    with pytest.raises(ConfigError) as caught:
        read_config(write(folder / "c.toml", f"[ingest]\ndate_patterns = '{pattern}'\n"), {}, {})
    fix = f"date_patterns = ['{pattern}']"
    assert str(caught.value).endswith(f"; write a list: {fix}")
    # The fix as given, pasted into the file, is the one pattern.
    config = read_config(write(folder / "c.toml", f"[ingest]\n{fix}\n"), {}, {})
    assert config.ingest.date_patterns == (pattern,)


@pytest.mark.parametrize("key", LIST_KEYS)
def test_every_list_key_takes_a_string_from_the_environment_only(folder: Path, key: str) -> None:
    table, _, name = key.partition(".")
    with pytest.raises(ConfigError, match=f"^{re.escape(key)}: expected a list of strings.*write a list"):
        read_config(write(folder / "c.toml", f"[{table}]\n{name} = 'a,b'\n"), {}, {})
    config = read_config(None, {}, {f"DIGEST_{table}_{name}".upper(): " a, b,"})
    assert getattr(getattr(config, table), name) == ("a", "b")


def test_a_string_with_a_quote_is_shown_as_a_toml_basic_string(folder: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_config(write(folder / "c.toml", '[parser]\nroles = "it\'s"\n'), {}, {})
    assert str(caught.value).endswith("""write a list: roles = ["it's"]""")


def test_unknown_option_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"did you mean 'paths\.source'"):
        read_config(None, {"paths.sorce": "x"}, {})


def test_missing_config_file_is_named(folder: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        read_config(folder / "nope.toml", {}, {})


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"schedule.digest_time": "7am"}, "schedule.digest_time"),
        ({"schedule.digest_time": "24:00"}, "schedule.digest_time"),
        ({"schedule.timezone": "Mars/Base"}, "schedule.timezone"),
        ({"schedule.scan_interval": 0}, "schedule.scan_interval"),
        ({"server.port": 70000}, "server.port"),
        ({"smtp.port": 0}, "smtp.port"),
        ({"smtp.security": "ssl"}, "smtp.security"),
        ({"digest.empty_days": "always"}, "digest.empty_days"),
        ({"database.url": "mysql://x/y"}, "database.url"),
        # a port that is no number stopped `digest check` and every command with a traceback
        ({"database.url": "postgresql://u:secretpw@127.0.0.1:notaport/test"}, "database.url"),
        ({"database.url": "postgresql://u@127.0.0.1:99999/test"}, "database.url"),
        ({"feeds.size": 0}, "feeds.size"),
        ({"site.base_url": "example.com"}, "site.base_url"),
        ({"feeds.hubs": ["ftp://hub"]}, "feeds.hubs"),
        ({"site.tag_authority": "example.com"}, "site.tag_authority"),
        ({"server.secret": ""}, "server.secret"),
        ({"server.secret": "change-me"}, "server.secret"),
        ({"server.secret": "x" * 31}, "server.secret"),
        # checked here with the mailer's own rules, so `digest check` fails where send-digest would
        ({"smtp.sender": "digest@example.org, other@example.org"}, "smtp.sender"),
        ({"smtp.sender": "摘要 <digest@example.org>\nBcc: x@example.org"}, "smtp.sender"),
        ({"smtp.sender": "=?utf-8?b?eA==?= <a@b.c>, d@e.f"}, "smtp.sender"),
        ({"site.title": "报纸\n摘要"}, "site.title"),
        ({"site.base_url": "https://news.example/a b"}, "site.base_url"),
        ({"ingest.encoding": "big-5"}, "ingest.encoding"),
        ({"ingest.encoding": "base64"}, "ingest.encoding"),  # a codec, but of no text
        ({"site.language": "zh_TW"}, "site.language"),
        ({"site.language": "traditional"}, "site.language"),
        ({"site.language": ""}, "site.language"),
    ],
)
def test_bad_values_name_their_key_and_fix(overrides: dict[str, object], key: str) -> None:
    problems = value_problems(read_config(None, overrides, {}))
    assert [problem.key for problem in problems] == [key]
    assert ";" in str(problems[0])  # every message carries a fix


def test_check_lists_every_bad_value_at_once_in_a_fixed_order() -> None:
    """``digest check`` lists them all, and ``load_config`` stops at the first: the order is part of
    what both show, whichever helper each check lives in."""
    overrides: dict[str, object] = {
        "schedule.digest_time": "25:00",
        "server.port": 0,
        "smtp.security": "ssl",
        "logging.format": "xml",
        "database.url": "mysql://h/db",
        "feeds.size": 0,
        "ingest.date_patterns": ["(?P<y>"],
        "feeds.hubs": ["not a url"],
        "site.title": "报纸\n摘要",
        "bounces.security": "x",
        "server.trusted_proxies": ["nowhere"],
        "server.secret": "secret",
        "retention.outbox_days": -1,
        "parser.roles": ["两个 词"],
    }
    keys = [problem.key for problem in value_problems(read_config(None, overrides, {}))]
    assert keys == [
        "schedule.digest_time",
        "server.port",
        "smtp.security",
        "logging.format",
        "database.url",
        "feeds.size",
        "ingest.date_patterns",
        "feeds.hubs",
        "site.title",
        "bounces.security",
        "server.trusted_proxies",
        "server.secret",
        "retention.outbox_days",
        "parser.roles",
    ]


def test_a_database_url_with_a_bad_port_is_named_without_its_password() -> None:
    (problem,) = value_problems(read_config(None, {"database.url": "postgresql://u:secretpw@h:x/db"}, {}))
    assert "secretpw" not in str(problem) and "'postgresql://u:***@h:x/db'" in str(problem)


def test_good_values_have_no_problems() -> None:
    overrides = {
        "database.url": "postgresql://u:p@h/db",
        "server.host": "0.0.0.0",
        "server.secret": "s3cret" * 6,
    }
    assert value_problems(read_config(None, overrides, {})) == []


@pytest.mark.parametrize("name", ["", "big5hkscs", "Big5-HKSCS", "cp950", "big5", "gb18030", "utf-16"])
def test_an_encoding_python_can_decode_is_accepted(name: str) -> None:
    assert value_problems(read_config(None, {"ingest.encoding": name}, {})) == []


def test_an_unknown_encoding_is_refused_with_examples_of_good_ones(folder: Path) -> None:
    path = write(folder / "c.toml", 'paths.source = "pages"\n[ingest]\nencoding = "big-5"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, {}, {})
    assert str(caught.value).startswith("ingest.encoding: 'big-5' is no text encoding Python knows; ")
    assert '"big5hkscs"' in str(caught.value) and '"gb18030"' in str(caught.value)


def test_missing_source_folder(tmp_path: Path) -> None:
    """A command refused for its source folder creates no data or output folder (before, both)."""
    folders = {"paths.data": tmp_path / "d", "paths.output": tmp_path / "o"}
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"paths.source": tmp_path / "missing", **folders}, {})
    assert caught.value.key == "paths.source"
    assert "does not exist" in str(caught.value)
    assert not any(folder.exists() for folder in folders.values())


def test_unwritable_output_folder(folder: Path) -> None:
    blocker = write(folder / "file", "not a folder")
    with pytest.raises(ConfigError) as caught:
        load_config(
            None,
            {"paths.source": folder / "pages", "paths.data": folder / "d", "paths.output": blocker / "out"},
            {},
        )
    assert caught.value.key == "paths.output"
    assert "not writable" in str(caught.value)


def test_shipped_config_toml_holds_the_defaults() -> None:
    config = read_config(ROOT / "config.toml", {}, {})
    assert config.paths.source == ROOT / "examples" / "pages"
    assert config.site == Config().site and config.schedule == Config().schedule


def test_every_key_is_documented_in_config_toml_and_readme() -> None:
    toml = (ROOT / "config.toml").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for table, keys in tables().items():
        assert f"[{table}]" in toml
        for key in keys:
            assert re.search(rf"^# {key} = ", toml, re.MULTILINE), f"{table}.{key} missing from config.toml"
            assert f"`{table}.{key}`" in readme, f"{table}.{key} missing from README.md"


# Shown in config.toml as examples of a value to set, not as defaults: both are unset by default.
EXAMPLE_VALUES = {"server.secret", "dkim.key_file"}


def test_config_toml_uncommented_is_the_defaults(tmp_path: Path) -> None:
    """config.toml says it shows every key with its default: uncommenting every line must change nothing."""
    toml = (ROOT / "config.toml").read_text(encoding="utf-8")
    uncommented = re.sub(r"^# (?=[a-z_]+ = )", "", toml, flags=re.MULTILINE)
    shown = read_config(write(tmp_path / "config.toml", uncommented), {}, {})
    defaults = read_config(write(tmp_path / "empty.toml", ""), {}, {})
    for table, keys in tables().items():
        for key in keys:
            if f"{table}.{key}" not in EXAMPLE_VALUES:
                got, want = getattr(getattr(shown, table), key), getattr(getattr(defaults, table), key)
                assert got == want, f"config.toml shows {table}.{key} = {got!r}, the default is {want!r}"


def test_the_readme_table_gives_each_keys_default() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \| (.*?) \|", readme, re.MULTILINE))
    defaults = Config()
    for table, keys in tables().items():
        for key in keys:
            dotted = f"{table}.{key}"
            if dotted != "ingest.date_patterns":  # described by the dates they match, not spelt out
                _check_shown_default(dotted, rows[dotted], getattr(getattr(defaults, table), key))


def _check_shown_default(dotted: str, shown: str, value: object) -> None:
    if value is None:
        assert shown == "unset", dotted
    elif isinstance(value, tuple):
        assert shown == f"`{list(value)}`", dotted
    else:
        spelt = '`""`' if value == "" else f"`{value}`"
        assert shown == spelt, f"{dotted}: README says {shown}, the default is {value!r}"


def test_a_misspelt_environment_variable_of_a_known_table_stops_the_load() -> None:
    with pytest.raises(ConfigError, match="did you mean DIGEST_SMTP_PASSWORD") as caught:
        read_config(None, {}, {"DIGEST_SMTP_PASWORD": "secret"})
    assert caught.value.key == "DIGEST_SMTP_PASWORD"
    # Variables outside our tables belong to someone else.
    assert read_config(None, {}, {"DIGEST_CONFIG": "x", "DIGEST_HOME": "y"}) == read_config(None, {}, {})


@pytest.mark.parametrize("tag", ["zh-CN", "zh-TW", "zh-HK", "zh-Hant", "zh-Hant-TW", "zh-yue-HK", "en"])
def test_language_takes_bcp47_tags(tag: str) -> None:
    assert value_problems(read_config(None, {"site.language": tag}, {})) == []


def test_a_malformed_language_says_which_tags_to_write() -> None:
    (problem,) = value_problems(read_config(None, {}, {"DIGEST_SITE_LANGUAGE": "zh_TW"}))
    assert problem.key == "site.language"
    assert all(tag in str(problem) for tag in ('"zh-CN"', '"zh-TW"', '"zh-HK"')), problem
