"""``cnp notify ...`` and the ``--notify`` job options through click's CliRunner, with
aiosmtpd as a real mail server and a closed port as a webhook that is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from cnp_tui.paths import CONFIG_NAME
from tests.integration.test_cli import Cli, isolate_env, make_job
from tests.integration.test_notify import Mailbox, free_port


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    isolate_env(monkeypatch, tmp_path)
    return Cli(tmp_path / "home")


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Mailbox]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


def test_job_options_set_the_notification_config(cli: Cli) -> None:
    job = make_job(
        cli,
        "nightly",
        "@sim",
        "--every",
        "1h",
        "--notify-on",
        "failure,recovery,retry",
        "--notify",
        "slack=https://hooks.slack.com/services/T/B/X",
        "--notify",
        "email=ops@example.com",
    )
    config = job["notification_config"]
    assert (config["on_failure"], config["on_recovery"], config["on_retry"]) == (True, True, True)
    assert (config["on_start"], config["on_success"]) == (False, False)
    assert [c["type"] for c in config["channels"]] == ["webhook", "email"]
    assert config["channels"][0]["format"] == "slack"
    updated = cli.json("job", "update", "nightly", "--notify-on", "every-failure")
    assert updated["notification_config"]["on_failure"] == "every"
    assert updated["notification_config"]["on_recovery"] is False
    assert len(updated["notification_config"]["channels"]) == 2, "channels kept"


def test_bad_notify_options_say_what_to_fix(cli: Cli) -> None:
    make_job(cli, "j", "@sim", "--every", "1h")
    result = cli("job", "update", "j", "--notify-on", "failure,sucess", code=2)
    assert "unknown event 'sucess'" in result.stderr and "success" in result.stderr
    result = cli("job", "update", "j", "--notify", "email=nobody", code=2)
    assert "not an email address" in result.stderr
    result = cli("job", "update", "j", "--notify", "pager=42", code=2)
    assert "webhook=URL" in result.stderr


def test_notify_test_list_and_retry(cli: Cli) -> None:
    assert "sent a test notification to log" in cli("notify", "test", "--channel", "log").stdout
    down = f"http://127.0.0.1:{free_port()}/hook"
    result = cli("notify", "test", "--channel", f"webhook={down}", code=1)
    assert "failed" in result.stderr and "cannot reach" in result.stderr
    (failed,) = cli.json("notify", "list", "--failed")
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["channel"]["url"] == down and failed["delivered_at"] is None
    assert "cannot reach" in failed["last_error"]
    everything = cli.json("notify", "list")
    assert [n["status"] for n in everything] == ["failed", "sent"]
    assert "is due again" in cli("notify", "retry", str(failed["id"])).stdout
    assert cli.json("notify", "list", "--failed") == []
    table = cli("notify", "list").stdout
    assert "pending" in table and "cnp test notification" in table
    assert "already sent" in cli("notify", "retry", str(everything[1]["id"]), code=4).stderr
    assert "no notification with id 999" in cli("notify", "retry", "999", code=3).stderr


def test_notify_test_sends_mail(cli: Cli, smtp: Any) -> None:
    controller, mailbox = smtp
    cli.home.mkdir(parents=True, exist_ok=True)
    (cli.home / CONFIG_NAME).write_text(
        "[notifications.smtp]\n"
        f"host = '127.0.0.1'\nport = {controller.port}\nfrom_address = 'cnp@example.com'\n"
    )
    result = cli("notify", "test", "--channel", "email=ops@example.com")
    assert "sent a test notification to email ops@example.com" in result.stdout
    (message,) = mailbox.messages
    assert message.rcpt_tos == ["ops@example.com"]
    text = message.content.decode()
    assert "Subject: cnp test notification" in text
    assert "the channel works" in text


def test_notify_list_of_an_unknown_execution(cli: Cli, tmp_path: Path) -> None:
    cli("notify", "test", "--channel", "log")
    assert "no execution matches" in cli("notify", "list", "--execution", "zzz", code=3).stderr
