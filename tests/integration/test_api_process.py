"""The API served by a real ``cnp --no-ui --api`` process: the CLI flag, ``cnp api token``,
and property-based fuzzing of every operation of its own OpenAPI document (schemathesis):
no input may produce a 5xx."""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SIMULATOR
from tests.integration.test_processes import wait_until

REPO = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CNP_")}
    return base | {
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "CNP_HOME": str(tmp_path / "home"),
        "CNP_EXECUTOR__CLAUDE_CLI_PATH": SIMULATOR,
        "CNP_SCHEDULER__TICK_INTERVAL": "0.05",
    }


def cnp(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cnp_tui", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class Served:
    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    env = _env(tmp_path)
    log = tmp_path / "engine.log"
    with log.open("w") as stderr:
        engine = subprocess.Popen(
            [sys.executable, "-m", "cnp_tui", "--no-ui", "--api", "127.0.0.1:0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:

        def port() -> str | None:
            assert engine.poll() is None, log.read_text()
            found = re.search(r"API listening on http://127\.0\.0\.1:(\d+)", log.read_text())
            return found.group(1) if found else None

        number = wait_until(port, "the API to listen")
        token = cnp(env, "api", "token").stdout.strip()
        yield Served(f"http://127.0.0.1:{number}", token)
        engine.send_signal(signal.SIGTERM)
        assert engine.wait(timeout=20) == 0, log.read_text()
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait(timeout=10)


def test_cnp_api_token_prints_the_token_file(tmp_path: Path) -> None:
    env = _env(tmp_path)
    first = cnp(env, "api", "token")
    assert first.returncode == 0, first.stderr
    token = first.stdout.strip()
    path = tmp_path / "home" / "api-token"
    assert len(token) >= 32 and path.read_text().strip() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cnp(env, "api", "token").stdout.strip() == token, "generated once"
    from_env = cnp(env | {"CNP_API__TOKEN_ENV": "MY_TOKEN", "MY_TOKEN": "abc"}, "api", "token")
    assert from_env.stdout.strip() == "abc"


def test_bad_api_flag_is_a_clear_error(tmp_path: Path) -> None:
    proc = cnp(_env(tmp_path), "--no-ui", "--api", "localhost:http")
    assert proc.returncode == 2
    assert "expected [HOST:]PORT" in proc.stderr


def test_headless_engine_with_api_flag_serves_and_stops_cleanly(served: Served) -> None:
    with urllib.request.urlopen(served.base + "/api/jobs/health", timeout=10) as response:
        health = json.loads(response.read())
    assert response.status == 200 and health["status"] == "ok"
    anonymous = urllib.request.Request(served.base + "/api/jobs")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(anonymous, timeout=10)
    assert refused.value.code == 401
    assert served.call("GET", "/api/jobs") == (200, {"items": [], "next_cursor": None})
    # (the fixture then stops the engine with SIGTERM and expects exit status 0)


@pytest.mark.slow
def test_headless_engine_serves_the_api_and_fuzzing_finds_no_5xx(served: Served) -> None:
    import hypothesis
    import schemathesis

    status, job = served.call(
        "POST",
        "/api/jobs",
        {
            "name": "fuzz-target",
            "prompt": {"id": "fuzz", "title": "Fuzz", "content": "@sim"},
            "schedule": {"type": "interval", "expression": "every 1h"},
        },
    )
    assert status == 201, job
    status, document = served.call("GET", "/api/openapi.json")
    assert status == 200
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    tested = 0
    headers = {"Authorization": f"Bearer {served.token}"}
    modes = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    for result in schema.get_all_operations():
        operation = result.ok()
        tested += 1
        strategy = hypothesis.strategies.one_of(
            [operation.as_strategy(generation_mode=mode) for mode in modes]
        )

        @hypothesis.settings(
            max_examples=25,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.generate],
        )
        @hypothesis.given(case=strategy)
        def probe(case: Any) -> None:
            response = case.call(base_url=served.base, headers=headers, timeout=10)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:200]}"
                )
            else:
                assert response.status_code < 500

        probe()
    assert tested >= 20, "every operation of the document was fuzzed"
    print("fuzzed responses by status:", dict(sorted(statuses.items())))
    assert sum(statuses.values()) >= 5 * tested
    assert {200, 400, 404, 422} <= set(statuses), "the fuzzer reached both answers and refusals"
    assert failures == []
    # The engine survived the fuzzing and still answers.
    status, body = served.call("GET", "/api/jobs/health")
    assert status == 200, body
