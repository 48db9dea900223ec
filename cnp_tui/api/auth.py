"""The API's bearer token: from ``[api] token_env`` or a generated 0600 file in the home."""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cnp_tui.config import ApiConfig
from cnp_tui.errors import ConfigError
from cnp_tui.paths import Paths

TOKEN_FILE = "api-token"


def token_path(paths: Paths) -> Path:
    return paths.home / TOKEN_FILE


def read_token(
    paths: Paths, api: ApiConfig, environ: Mapping[str, str] | None = None, *, create: bool
) -> str | None:
    """The token in force; generated into the home (mode 0600) when ``create`` and missing."""
    environ = os.environ if environ is None else environ
    if api.token_env:
        value = environ.get(api.token_env, "").strip()
        if not value:
            raise ConfigError(
                f"[api] token_env names the environment variable {api.token_env}, "
                "which is not set or empty",
                hint=f"export {api.token_env}=<a long random token>, or unset token_env to "
                "have a token generated",
            )
        return value
    path = token_path(paths)
    try:
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    except FileNotFoundError:
        pass
    if not create:
        return None
    paths.ensure_home()
    value = secrets.token_urlsafe(32)
    # O_EXCL + 0600: the token is never readable by others, not even for an instant.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another engine made it first
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(value + "\n")
    return value


def token_matches(expected: str, header: str | None) -> bool:
    """Constant-time check of an ``Authorization: Bearer <token>`` header."""
    if not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
