"""The secret that signs subscription links and forms: configured, or made once and kept in the data folder.

A default secret anyone can read in the source lets anyone forge a
confirmation for an address that never consented.  So there is none: when
``server.secret`` is not set, the first command that needs to sign
generates 256 random bits into ``<data>/server.secret`` (mode 0600,
written whole and linked into place, so two processes starting at once agree) and every
later command, CLI or service, reads the same file.  A configured secret
must be long (``config.value_problems`` refuses a short or well-known one).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from digest.config import MIN_SECRET_LENGTH, Config
from digest.errors import ConfigError

SECRET_FILE = "server.secret"


def signing_secret(config: Config) -> str:
    """``server.secret``, else the one kept in the data folder (made now if there is none yet)."""
    if config.server.secret is not None:
        return config.server.secret
    path = config.paths.data / SECRET_FILE
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
        _create(path, secrets.token_urlsafe(32))
    return _read(path)


def _read(path: Path) -> str:
    try:
        secret = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            "server.secret",
            f"cannot read {path} ({getattr(exc, 'strerror', None) or exc})",
            "let the service user read it, or set DIGEST_SERVER_SECRET",
        ) from exc
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            "server.secret",
            f"{path} holds {len(secret)} characters, fewer than {MIN_SECRET_LENGTH}",
            "delete the file to have a new one made (links already sent stop working)",
        )
    return secret


def _create(path: Path, secret: str) -> None:
    """Write ``secret`` whole to a private temporary file, then link it into place.

    ``link`` fails when the name exists, so the file appears complete or not at
    all, and of two processes racing exactly one wins (``FileExistsError`` for the other).
    """
    scratch = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.link(scratch, path)
    except FileExistsError:
        raise
    except OSError as exc:
        raise ConfigError(
            "server.secret",
            f"cannot create {path} ({exc.strerror})",
            "make the data folder writable, or set DIGEST_SERVER_SECRET to a long random string",
        ) from exc
    finally:
        scratch.unlink(missing_ok=True)
