"""Reading raw configuration values: the TOML file, ``DIGEST_*`` variables, and coercing each value.

``digest.config`` declares the keys and merges the sources; this module turns what one source holds
into the declared types, or into a ``ConfigError`` that names where the value came from and how to
write it instead.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import typing
from collections.abc import Callable, Mapping
from datetime import date, time
from pathlib import Path

from digest.errors import ConfigError

ENV_PREFIX = "DIGEST_"


def _closest(name: str, choices: typing.Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return close[0] if close else None


def suggest(name: str, choices: typing.Iterable[str]) -> str:
    """ "did you mean 'x'?" for the choice closest to a misspelt ``name``; empty when none is close."""
    close = _closest(name, choices)
    return f"did you mean '{close}'?" if close else ""


def _shown(value: object) -> str:
    """``value`` as the operator wrote it in TOML, not as Python spells it (``true``, ``07:00:00``)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, date | time):
        return value.isoformat()
    return repr(value)


def coerce(
    key: str,
    kind: type,
    value: object,
    base: Path,
    default: Callable[[], object],
    variable: str | None = None,
) -> object:
    """Turn a raw TOML/env/CLI value into the declared type, or say what was expected.

    ``default``: gives the key's default, the example a type error's fix shows (asked for only
    then: working it out is slow).  ``variable``: the environment variable the value came from,
    which the error names and tells how to set, since the file's spelling (``port = 8080``) would
    send the operator to the wrong place.
    """
    name = key.split(".")[1]
    where = variable or key
    example = f"set e.g. {variable}=" if variable else f"write e.g. {name} = "
    if kind is int:
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(where, f"expected a whole number, got {_shown(value)}", f"{example}{default()}")
    if kind is float:
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d+(\.\d*)?\s*", value):
            return float(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(where, f"expected a number, got {_shown(value)}", f"{example}{default()}")
    if kind is Path or kind == Path | None:
        if not isinstance(value, str | Path) or not str(value).strip():
            what = "folder" if kind is Path else "file"
            fix = f"set {variable} to a path" if variable else "write a path in quotes"
            raise ConfigError(where, f"expected a {what} path, got {_shown(value)}", fix)
        path = Path(value).expanduser()
        return path if path.is_absolute() else (base / path).absolute()
    if kind == tuple[str, ...]:
        if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
            return tuple(value)
        # Only the environment splits at commas (``from_environ``): a comma in the file may be a
        # pattern's own, as in \d{1,3}, and a list says where each item ends.
        fix = f"write a list: {name} = [{_toml_string(value)}]" if isinstance(value, str) else ""
        raise ConfigError(
            key,
            f"expected a list of strings, got {_shown(value)}",
            fix or 'write e.g. ["https://hub.example"]',
        )
    if not isinstance(value, str):
        quoted = _quoted_example(value, default())
        raise ConfigError(
            key, f"expected a string, got {_shown(value)}", f'put the value in quotes: {name} = "{quoted}"'
        )
    return value


def _toml_string(text: str) -> str:
    """``text`` as a TOML string: a literal one (backslashes as they are) unless it holds a quote."""
    return f"'{text}'" if "'" not in text and "\n" not in text else json.dumps(text, ensure_ascii=False)


def _quoted_example(value: object, default: object) -> str:
    """What ``value``, written without quotes, reads as in quotes: a time of day (TOML's ``07:30:00``, or
    the hour ``7``) as HH:MM when the key takes one, since ``"7"`` would only be refused next."""
    if isinstance(value, time):
        return value.strftime("%H:%M")
    hour = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24
    if hour and re.fullmatch(r"\d\d:\d\d", str(default)):
        return f"{value:02d}:00"
    return _shown(value).strip("'")


def read_file(path: Path) -> dict[str, object]:
    """The tables of the TOML file at ``path``; one missing, unreadable or not TOML is a ``ConfigError``."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            "--config", f"file {path} does not exist", "check the path or omit --config"
        ) from None
    except OSError as exc:
        raise ConfigError(
            "--config", f"cannot read {path} ({exc.strerror})", "check its permissions"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML ({exc})", "fix the syntax at that line") from exc


def from_environ(
    environ: Mapping[str, str], schema: dict[str, dict[str, type]], note: Callable[[ConfigError], None]
) -> dict[str, tuple[str, object]]:
    """``DIGEST_SMTP_PASSWORD`` → ``{"smtp.password": ("DIGEST_SMTP_PASSWORD", ...)}``.

    A variable naming a known table but no key of it (``DIGEST_SMTP_PASWORD``)
    is a ``ConfigError`` given to ``note``: a silently ignored secret is worse
    than a stop.  Other ``DIGEST_`` variables are not ours and are left alone.
    """
    found: dict[str, tuple[str, object]] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        rest = name.removeprefix(ENV_PREFIX).lower()
        for table, keys in schema.items():
            if rest.startswith(table + "_"):
                key = rest.removeprefix(table + "_")
                if key not in keys:
                    close = _closest(key, keys)
                    fix = f"did you mean {f'{ENV_PREFIX}{table}_{close}'.upper()}?" if close else ""
                    fix = fix or f"keys of [{table}]: {', '.join(keys)}"
                    note(ConfigError(name, f"no key {table}.{key}", fix))
                    continue
                # A variable holds one string: a list's items are split at commas there only.
                items = [item.strip() for item in value.split(",") if item.strip()]
                found[f"{table}.{key}"] = (name, items if keys[key] == tuple[str, ...] else value)
    return found
