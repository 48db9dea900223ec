"""Pure helpers of the API: token comparison, loopback detection, --api parsing, cursors;
and the error middleware, through aiohttp's test client."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cnp_tui.api.app import ApiState, create_app
from cnp_tui.api.auth import is_loopback, token_matches
from cnp_tui.api.metrics import Metrics
from cnp_tui.config import parse_bind
from cnp_tui.core.bus import EventBus
from cnp_tui.errors import ConfigError, InvalidInputError
from cnp_tui.paths import Paths
from cnp_tui.service import JobService, _decode_cursor, _encode_cursor
from cnp_tui.store.sqlite import SqliteStore
from tests.conftest import make_settings


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("Bearer s3cret", True),
        ("bearer s3cret", True),
        ("Bearer  s3cret ", True),
        ("Bearer s3cre", False),
        ("Bearer s3cret2", False),
        ("Basic s3cret", False),
        ("s3cret", False),
        ("", False),
        (None, False),
    ],
)
def test_token_matches(header: str | None, accepted: bool) -> None:
    assert token_matches("s3cret", header) is accepted


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.2", False), ("::", False), ("example.com", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_parse_bind() -> None:
    assert parse_bind("8765") == (None, 8765)
    assert parse_bind("0.0.0.0:80") == ("0.0.0.0", 80)
    assert parse_bind("[::1]:9000") == ("::1", 9000)
    assert parse_bind(":9000") == (None, 9000)
    for bad in ("http", "host:", "1:2:x", "70000", "-1"):
        with pytest.raises(ConfigError, match=r"\[HOST:\]PORT"):
            parse_bind(bad)


def test_cursor_round_trip_and_garbage() -> None:
    cursor = _encode_cursor(["nightly", "abc123"])
    assert _decode_cursor(cursor, 2) == ["nightly", "abc123"]
    for garbage in ("", "!!!", _encode_cursor(["one"]), _encode_cursor([1, 2]), "e30"):
        with pytest.raises(InvalidInputError, match="cursor"):
            _decode_cursor(garbage, 2)


async def test_a_bug_in_a_handler_is_a_plain_json_500_without_trace(paths: Paths) -> None:
    settings = make_settings()
    bus = EventBus()
    async with SqliteStore(paths.database) as store:
        state = ApiState(
            service=JobService(store, settings),
            bus=bus,
            settings=settings,
            token=None,
            metrics=Metrics(bus),
        )
        app = create_app(state)

        async def broken(request: web.Request) -> web.Response:
            raise RuntimeError("secret internals /etc/passwd")

        app.router.add_get("/api/broken", broken)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/api/broken")
            assert response.status == 500
            body = await response.json()
            assert body["error"] == "internal"
            assert "secret" not in body["detail"] and "Traceback" not in await response.text()
            response = await client.get("/api/jobs")
            assert response.status == 200, "token None: auth off (loopback tests only)"
