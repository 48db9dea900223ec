"""The REST + WebSocket API, served by a real engine (Runtime with [api] on port 0) over a real
SQLite home, driven with aiohttp's client; executions run on the simulator."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from cnp_tui.config import Settings
from cnp_tui.core.clock import ManualClock
from cnp_tui.core.events import ExecutionFinished, ExecutionStarted, JobChanged
from cnp_tui.engine.runtime import Runtime
from cnp_tui.errors import ConfigError
from cnp_tui.paths import Paths
from tests.conftest import Recorder, make_settings


@dataclass
class Api:
    """A running engine with its API, and an authenticated HTTP session."""

    runtime: Runtime
    http: aiohttp.ClientSession
    base: str
    token: str
    events: Recorder

    def url(self, path: str) -> str:
        return self.base + path

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.request(method, self.url(path), **kwargs) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    async def ws(self) -> aiohttp.ClientWebSocketResponse:
        return await self.http.ws_connect(self.url("/api/ws"))


def api_settings(**api: Any) -> Settings:
    return make_settings(api={"enabled": True, "port": 0, **api})


@pytest.fixture
async def api(paths: Paths, clock: ManualClock) -> AsyncIterator[Api]:
    async with Runtime(paths, api_settings(), clock=clock) as runtime:
        token = (paths.home / "api-token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            yield Api(
                runtime,
                http,
                f"http://127.0.0.1:{runtime.api.port}",
                token,
                Recorder(runtime.bus),
            )


JOB = {
    "name": "nightly",
    "prompt": {"title": "Nightly check", "content": "@sim lines=3 text=All-good"},
    "schedule": {"type": "cron", "expression": "0 9 * * *", "timezone": "Europe/Lisbon"},
    "retry": {"max_attempts": 1},
    "tags": ["ops"],
}


async def test_token_file_is_private_and_every_endpoint_but_health_needs_it(
    api: Api, paths: Paths
) -> None:
    mode = stat.S_IMODE(os.stat(paths.home / "api-token").st_mode)
    assert mode == 0o600
    async with aiohttp.ClientSession() as anonymous:
        for path in ("/api/jobs", "/api/prompts", "/api/jobs/stats", "/api/openapi.json"):
            async with anonymous.get(api.url(path)) as response:
                assert response.status == 401
                body = await response.json()
                assert body["error"] == "unauthorized" and "cnp api token" in body["detail"]
        wrong = {"Authorization": "Bearer " + api.token[:-1] + "x"}
        async with anonymous.get(api.url("/api/jobs"), headers=wrong) as response:
            assert response.status == 401


async def test_anonymous_websocket_is_refused(api: Api) -> None:
    async with aiohttp.ClientSession() as anonymous:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await anonymous.ws_connect(api.url("/api/ws"))
    assert refused.value.status == 401


async def test_health_needs_no_token_and_checks_every_component(api: Api) -> None:
    async with (
        aiohttp.ClientSession() as anonymous,
        anonymous.get(api.url("/api/jobs/health")) as response,
    ):
        assert response.status == 200
        body = await response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "engine_lease", "scheduler", "claude"}
    assert all(check["ok"] for check in body["checks"].values())


async def test_health_is_503_naming_a_missing_claude(paths: Paths, clock: ManualClock) -> None:
    settings = api_settings()
    settings.executor.claude_cli_path = "/nonexistent/claude"
    async with (
        Runtime(paths, settings, clock=clock, require_claude=False) as runtime,
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{runtime.api.port}/api/jobs/health") as response,
    ):
        assert response.status == 503
        body = await response.json()
    assert body["status"] == "failing: claude"
    assert "/nonexistent/claude" in body["checks"]["claude"]["detail"]
    assert body["checks"]["database"]["ok"] and body["checks"]["scheduler"]["ok"]


async def test_prompts_crud_and_pagination(api: Api) -> None:
    for n in range(5):
        status, body = await api.call(
            "POST", "/api/prompts", json={"title": f"P {n}", "content": f"text {n}"}
        )
        assert status == 201 and body["id"] == f"p-{n}"
    seen, cursor = [], None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        status, page = await api.call("GET", "/api/prompts", params=params)
        assert status == 200 and len(page["items"]) <= 2
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p-{n}" for n in range(5)]
    status, body = await api.call("PUT", "/api/prompts/p-1", json={"content": "changed"})
    assert status == 200 and body["content"] == "changed" and body["title"] == "P 1"
    status, body = await api.call("GET", "/api/prompts/p-1")
    assert body["content"] == "changed"
    status, body = await api.call("DELETE", "/api/prompts/p-1")
    assert status == 200 and body["id"] == "p-1"
    status, body = await api.call("GET", "/api/prompts/p-1")
    assert status == 404 and body["error"] == "not_found"


async def test_job_lifecycle_matches_the_cli_json(api: Api) -> None:
    status, job = await api.call("POST", "/api/jobs", json=JOB)
    assert status == 201, job
    assert job["prompt_id"] == "nightly-check"
    assert job["retry_config"]["max_attempts"] == 1
    assert job["next_run_time"] is not None and job["status"] == "active"
    # The very object `cnp job show --format json` prints.
    service_view = await api.runtime.scheduler.store.get_job(job["id"])
    assert service_view is not None and service_view.model_dump(mode="json") == job

    status, body = await api.call("PUT", f"/api/jobs/{job['id']}", json={"priority": 9})
    assert status == 200 and body["priority"] == 9 and body["schedule"] == job["schedule"]
    status, body = await api.call("POST", "/api/jobs/nightly/pause")
    assert status == 200 and body["status"] == "paused" and body["next_run_time"] is None
    status, body = await api.call("GET", "/api/jobs", params={"status": "paused"})
    assert [j["name"] for j in body["items"]] == ["nightly"]
    status, body = await api.call("GET", "/api/jobs", params={"status": "active"})
    assert body["items"] == []
    status, body = await api.call("POST", "/api/jobs/nightly/resume")
    assert status == 200 and body["status"] == "active" and body["next_run_time"]
    status, body = await api.call("GET", f"/api/jobs/{job['id'][:6]}")
    assert status == 200 and body["name"] == "nightly"
    status, body = await api.call("DELETE", "/api/jobs/nightly")
    assert status == 200 and body["id"] == job["id"]
    status, body = await api.call("GET", "/api/jobs/nightly")
    assert status == 404


async def test_job_list_paginates_and_filters_by_tag(api: Api) -> None:
    await api.call("POST", "/api/prompts", json={"id": "p", "title": "P", "content": "@sim"})
    for n in range(7):
        spec = {
            "name": f"job-{n}",
            "prompt_id": "p",
            "schedule": {"type": "interval", "expression": "every 1h"},
            "tags": ["even"] if n % 2 == 0 else [],
        }
        status, body = await api.call("POST", "/api/jobs", json=spec)
        assert status == 201, body
    names, cursor = [], None
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        _, page = await api.call("GET", "/api/jobs", params=params)
        names += [j["name"] for j in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert names == [f"job-{n}" for n in range(7)]
    _, page = await api.call("GET", "/api/jobs", params={"tag": "even"})
    assert [j["name"] for j in page["items"]] == ["job-0", "job-2", "job-4", "job-6"]


async def test_each_error_class_has_its_status_and_a_json_body(api: Api) -> None:
    await api.call("POST", "/api/jobs", json=JOB)
    cases: list[tuple[str, str, dict[str, Any], int, str | None]] = [
        ("POST", "/api/jobs", {"data": b"{not json"}, 400, "body"),
        ("POST", "/api/jobs", {"json": [1, 2]}, 400, "body"),
        ("GET", "/api/jobs", {"params": {"limit": "many"}}, 400, "limit"),
        ("GET", "/api/jobs", {"params": {"limit": "0"}}, 422, "limit"),
        ("GET", "/api/jobs", {"params": {"cursor": "garbage!"}}, 422, "cursor"),
        ("GET", "/api/jobs", {"params": {"status": "sleeping"}}, 422, "status"),
        (
            "POST",
            "/api/jobs",
            {"json": {**JOB, "name": "x", "schedule": {"type": "weekly", "expression": "x"}}},
            422,
            "schedule.type",
        ),
        ("POST", "/api/jobs", {"json": {**JOB, "name": "y", "colour": "red"}}, 422, "colour"),
        ("PUT", "/api/jobs/nightly", {"json": {"priority": 42}}, 422, "priority"),
        ("GET", "/api/jobs/nope", {}, 404, None),
        ("GET", "/api/executions/nope", {}, 404, None),
        ("GET", "/api/nothing-here", {}, 404, None),
        ("PATCH", "/api/jobs/nightly", {"json": {}}, 405, None),
        (
            "POST",
            "/api/jobs",
            {"json": {**JOB, "prompt": None, "prompt_id": "nightly-check"}},
            409,
            None,
        ),  # duplicate name
        (
            "POST",
            "/api/prompts",
            {"json": {"id": "nightly-check", "title": "t", "content": "c"}},
            409,
            None,
        ),
        ("DELETE", "/api/prompts/nightly-check", {}, 409, None),  # a job uses it
    ]
    for method, path, kwargs, expected, field in cases:
        status, body = await api.call(method, path, **kwargs)
        assert status == expected, (method, path, body)
        assert isinstance(body, dict) and body["error"] and body["detail"], body
        if field is not None:
            assert body.get("field") == field, body
    status, body = await api.call(
        "POST", "/api/prompts", data=json.dumps({"title": "t", "content": "x" * 2_000_000})
    )
    assert status == 413 and "max_body_bytes" in body["detail"]


async def test_a_bad_inline_job_leaves_no_prompt_behind(api: Api) -> None:
    bad = {**JOB, "schedule": {"type": "cron", "expression": "61 * * * *"}}
    status, body = await api.call("POST", "/api/jobs", json=bad)
    assert status == 422 and "schedule" in body["detail"]
    _, prompts = await api.call("GET", "/api/prompts")
    assert prompts["items"] == []


async def run_job(api: Api, prompt: str) -> tuple[str, str]:
    spec = {**JOB, "prompt": {"title": "Run", "content": prompt}}
    _, job = await api.call("POST", "/api/jobs", json=spec)
    status, execution = await api.call("POST", f"/api/jobs/{job['id']}/execute")
    assert status == 202 and execution["status"] == "queued"
    return job["id"], execution["id"]


async def test_execute_history_logs_and_cancel(api: Api) -> None:
    job_id, execution_id = await run_job(api, "@sim lines=5 text=Fine")
    await api.events.wait_for(ExecutionFinished, lambda e: e.execution.id == execution_id)
    await api.runtime.store.flush()
    status, execution = await api.call("GET", f"/api/executions/{execution_id}")
    assert status == 200 and execution["status"] == "completed" and execution["output"] == "Fine"
    _, page = await api.call("GET", f"/api/jobs/{job_id}/executions")
    assert [e["id"] for e in page["items"]] == [execution_id]
    _, logs = await api.call("GET", f"/api/executions/{execution_id}/logs")
    seqs = [line["seq"] for line in logs["items"]]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 5
    _, tail = await api.call(
        "GET", f"/api/executions/{execution_id}/logs", params={"after_seq": "3", "limit": "2"}
    )
    assert [line["seq"] for line in tail["items"]] == [4, 5] and tail["last_seq"] == 5
    status, body = await api.call("POST", f"/api/executions/{execution_id}/cancel")
    assert status == 409 and "already ended" in body["detail"]


async def test_execution_history_pages_newest_first_and_filters_by_status(api: Api) -> None:
    job_id, first = await run_job(api, "@sim")
    ids = [first]
    for _ in range(4):
        _, execution = await api.call("POST", f"/api/jobs/{job_id}/execute")
        ids.append(execution["id"])
    await api.events.wait_for(ExecutionFinished, lambda e: e.execution.job_id == job_id, count=5)
    await api.runtime.store.flush()
    paged, cursor = [], None
    while True:
        params = {"limit": "2"} | ({"cursor": cursor} if cursor else {})
        status, page = await api.call("GET", f"/api/jobs/{job_id}/executions", params=params)
        assert status == 200 and len(page["items"]) <= 2
        paged += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert paged == list(reversed(ids)), "newest first, each once"
    _, done = await api.call(
        "GET", f"/api/jobs/{job_id}/executions", params={"status": "completed"}
    )
    assert len(done["items"]) == 5
    _, none = await api.call("GET", f"/api/jobs/{job_id}/executions", params={"status": "failed"})
    assert none == {"items": [], "next_cursor": None}


async def test_cancel_a_running_execution(api: Api) -> None:
    _, execution_id = await run_job(api, "@sim lines=50 duration=30")
    await api.events.wait_for(ExecutionStarted, lambda e: e.execution.id == execution_id)
    await api.runtime.store.flush()  # mark_started is group-committed
    _, execution = await api.call("GET", f"/api/executions/{execution_id}")
    assert execution["status"] == "running"
    status, body = await api.call("POST", f"/api/executions/{execution_id}/cancel")
    assert status == 202 and body == {"execution_id": execution_id, "outcome": "requested"}
    [done] = await api.events.wait_for(ExecutionFinished, lambda e: e.execution.id == execution_id)
    assert done.execution.status.value == "cancelled"


async def test_stats_and_metrics(api: Api) -> None:
    job_id, execution_id = await run_job(api, "@sim lines=2")
    await api.events.wait_for(ExecutionFinished, lambda e: e.execution.id == execution_id)
    await api.runtime.store.flush()
    _, stats = await api.call("GET", "/api/jobs/stats")
    assert stats["total_runs"] == 1 and stats["total_failures"] == 0
    assert stats["executions"] == {"completed": 1}
    [per_job] = stats["per_job"]
    assert per_job["id"] == job_id and per_job["success_rate"] == 1.0
    assert per_job["avg_execution_time_ms"] is not None

    status, text = await api.call("GET", "/api/jobs/metrics")
    assert status == 200
    families = {family.name: family for family in text_string_to_metric_families(text)}
    [executed] = families["cnp_executions"].samples
    assert executed.labels == {"job_id": job_id, "job": "nightly", "status": "completed"}
    assert executed.value == 1
    duration = families["cnp_execution_duration_seconds"]
    count = [s for s in duration.samples if s.name.endswith("_count")]
    assert count[0].value == 1
    infinite = [s for s in duration.samples if s.labels.get("le") == "+Inf"]
    assert infinite[0].value == 1
    assert families["cnp_queue_depth"].samples[0].value == 0
    assert families["cnp_running_executions"].samples[0].value == 0
    assert families["cnp_cooldown_active"].samples[0].value == 0
    assert families["cnp_engine_uptime_seconds"].samples[0].value >= 0
    backlog = families["cnp_notification_backlog"].samples[0].value
    assert backlog == await api.runtime.notifier.backlog()  # the outbox's undelivered rows

    # A usage limit in force.
    from datetime import timedelta

    from cnp_tui.core.models import Cooldown

    now = api.runtime.clock.now()
    await api.runtime.store.set_cooldown(
        Cooldown(until=now + timedelta(minutes=30), reason="limit", detected_at=now)
    )

    _, text = await api.call("GET", "/api/jobs/metrics")
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert families["cnp_cooldown_active"].samples[0].value == 1
    assert families["cnp_cooldown_seconds_left"].samples[0].value == 1800


async def test_websocket_status_updates_for_subscribed_jobs(api: Api) -> None:
    await api.call("POST", "/api/prompts", json={"id": "p", "title": "P", "content": "@sim"})
    other = {"name": "other", "prompt_id": "p", "schedule": JOB["schedule"]}
    _, other_job = await api.call("POST", "/api/jobs", json=other)
    mine = {"name": "mine", "prompt_id": "p", "schedule": JOB["schedule"]}
    _, job = await api.call("POST", "/api/jobs", json=mine)
    async with await api.ws() as ws:
        await ws.send_json({"type": "subscribe", "jobs": ["mine"]})
        ack = await ws.receive_json(timeout=5)
        assert ack == {"type": "subscribed", "jobs": [job["id"]]}
        await api.call("POST", f"/api/jobs/{other_job['id']}/execute")
        _, execution = await api.call("POST", f"/api/jobs/{job['id']}/execute")
        statuses = []
        while not statuses or statuses[-1] not in ("completed", "failed"):
            message = await ws.receive_json(timeout=20)
            assert message["type"] == "TaskStatusUpdate"
            assert message["jobId"] == job["id"], "only the subscribed job"
            assert message["executionId"] == execution["id"]
            statuses.append(message["status"])
        assert statuses[-2:] == ["running", "completed"]
        assert message["progress"] == 1.0 and message["timestamp"]
        await api.call("POST", f"/api/jobs/{job['id']}/pause")
        update = await ws.receive_json(timeout=5)
        assert update["status"] == "paused" and "executionId" not in update
        await ws.send_json({"type": "bogus"})
        error = await ws.receive_json(timeout=5)
        assert error["type"] == "error" and "subscribe_logs" in error["detail"]


async def test_websocket_log_stream_resumes_by_seq_without_gaps(api: Api) -> None:
    _, execution_id = await run_job(api, "@sim lines=40 duration=2")
    received: list[dict[str, Any]] = []
    async with await api.ws() as ws:
        await ws.send_json({"type": "subscribe_logs", "executionId": execution_id})
        while len(received) < 5:
            message = await ws.receive_json(timeout=20)
            if message["type"] == "ExecutionLogStream":
                received.append(message)
    assert not any(m["stream"] == "result" for m in received), "disconnected mid-run"
    # Reconnect from the last seq seen, while the execution still runs.
    async with await api.ws() as ws:
        resume = {"type": "subscribe_logs", "executionId": execution_id}
        await ws.send_json(resume | {"afterSeq": received[-1]["seq"]})
        await api.events.wait_for(ExecutionFinished, lambda e: e.execution.id == execution_id)
        await api.runtime.store.flush()
        stored = await api.runtime.store.get_logs(execution_id)
        while received[-1]["seq"] < stored[-1].seq:
            message = await ws.receive_json(timeout=20)
            if message["type"] == "ExecutionLogStream":
                received.append(message)
        # After the end, a late subscriber gets the stored tail alone.
        await ws.send_json(resume | {"afterSeq": stored[-3].seq})
        tail = []
        while True:
            message = await ws.receive_json(timeout=20)
            if message["type"] == "subscribed_logs" and tail:
                assert message["status"] == "completed"
                assert message["lastSeq"] == stored[-1].seq
                break
            if message["type"] == "ExecutionLogStream":
                tail.append(message["seq"])
    seqs = [m["seq"] for m in received]
    assert seqs == [line.seq for line in stored], "every line once, in order, none missing"
    assert [m["message"] for m in received] == [line.text for line in stored]
    assert sum(m["stream"] == "assistant" for m in received) == 40
    assert tail == [line.seq for line in stored[-2:]]
    first = received[0]
    assert set(first) >= {"executionId", "logLevel", "message", "timestamp", "seq"}


async def test_a_slow_websocket_client_is_closed_not_waited_for(
    paths: Paths, clock: ManualClock
) -> None:
    settings = api_settings(ws_send_queue=5)
    async with Runtime(paths, settings, clock=clock) as runtime:
        token = (paths.home / "api-token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            url = f"http://127.0.0.1:{runtime.api.port}/api/ws"
            async with http.ws_connect(url) as ws:
                await ws.send_json({"type": "subscribe"})
                assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
                from cnp_tui.core.models import Job, Schedule

                job = Job(
                    name="burst",
                    prompt_id="p",
                    schedule=Schedule(type="interval", expression="every 1h"),
                )
                for _ in range(100):  # a burst faster than any client: no await in between
                    runtime.bus.publish(JobChanged(job))
                closed = None
                while closed is None:
                    message = await ws.receive(timeout=5)
                    if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        closed = ws.close_code
                assert closed == 1013


async def test_openapi_document_lists_every_route(api: Api) -> None:
    from cnp_tui.api.app import ROUTES

    status, document = await api.call("GET", "/api/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1")
    for method, path, _ in ROUTES:
        assert method.lower() in document["paths"][path], path
    job_body = document["components"]["schemas"]["JobDocument"]
    assert "schedule" in job_body["properties"] and "prompt" in job_body["properties"]
    assert document["paths"]["/api/jobs/health"]["get"]["security"] == []


async def test_token_env_must_name_a_set_variable(paths: Paths, clock: ManualClock) -> None:
    settings = api_settings(token_env="CNP_TEST_TOKEN_THAT_IS_NOT_SET")
    with pytest.raises(ConfigError, match="CNP_TEST_TOKEN_THAT_IS_NOT_SET"):
        async with Runtime(paths, settings, clock=clock):
            pass
    # The engine did not stay half-started: another can take the database.
    async with Runtime(paths, make_settings(), clock=clock):
        pass


async def test_token_env_token_is_used(
    paths: Paths, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CNP_TEST_API_TOKEN", "s3cret-token")
    settings = api_settings(token_env="CNP_TEST_API_TOKEN")
    async with Runtime(paths, settings, clock=clock) as runtime:
        url = f"http://127.0.0.1:{runtime.api.port}/api/jobs"
        async with aiohttp.ClientSession() as http:
            async with http.get(url, headers={"Authorization": "Bearer s3cret-token"}) as r:
                assert r.status == 200
            async with http.get(url, headers={"Authorization": "Basic s3cret-token"}) as r:
                assert r.status == 401
    assert not (paths.home / "api-token").exists()
