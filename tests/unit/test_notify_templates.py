"""Templates, channel specs and the [notifications] config section."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnp_tui.config import load_settings
from cnp_tui.core.models import EmailChannel, JobSpec, LogChannel, WebhookChannel
from cnp_tui.errors import ConfigError, InvalidInputError
from cnp_tui.notify.channels import parse_channel_spec, signature
from cnp_tui.notify.notifier import variables
from cnp_tui.notify.templates import VARIABLES, Templates, check_defaults


def test_default_templates_use_known_variables_only() -> None:
    check_defaults()


def test_every_variable_has_a_value_and_renders() -> None:
    values = variables(None, None, event="test")
    assert set(values) == set(VARIABLES)
    rendered = Templates().render("failure", "email", values)
    assert rendered.subject.startswith("✗")
    assert "Job: -" in rendered.body


def test_overrides_per_event_and_per_channel(tmp_path: Path) -> None:
    (tmp_path / "failure.subject").write_text("FAIL ${job_name}\n")
    (tmp_path / "failure.slack.body").write_text("slack says ${status} after $$5 spent")
    templates = Templates.load(tmp_path)
    values = variables(None, None, event="failure") | {"job_name": "nightly", "status": "failed"}
    assert templates.render("failure", "email", values).subject == "FAIL nightly"
    assert templates.render("failure", "slack", values).body == "slack says failed after $5 spent"
    assert "Job: nightly" in templates.render("failure", "email", values).body, "default body"


def test_an_unknown_variable_names_the_file_and_the_variable(tmp_path: Path) -> None:
    (tmp_path / "recovery.email.body").write_text("back after ${downtime}")
    with pytest.raises(ConfigError) as error:
        Templates.load(tmp_path)
    message = str(error.value)
    assert "recovery.email.body" in message and "${downtime}" in message
    assert "job_name" in message, "the known variables are listed"


@pytest.mark.parametrize("name", ["failed.subject", "failure.teams.body", "failure.txt"])
def test_an_unknown_template_file_name_is_an_error(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("x")
    with pytest.raises(ConfigError, match=name.replace(".", r"\.")):
        Templates.load(tmp_path)


def test_a_stray_dollar_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "start.subject").write_text("costs $ 5")
    with pytest.raises(ConfigError, match=r"start\.subject.*\$\$"):
        Templates.load(tmp_path)


def test_a_missing_template_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a directory"):
        Templates.load(tmp_path / "nope")


def test_channel_specs_from_the_command_line() -> None:
    assert parse_channel_spec("webhook=https://x.test/h") == WebhookChannel(url="https://x.test/h")
    assert parse_channel_spec("slack=https://hooks.slack.com/a").format == "slack"
    assert parse_channel_spec("email=a@b.c,d@e.f") == EmailChannel(recipients=["a@b.c", "d@e.f"])
    assert parse_channel_spec("log") == LogChannel()
    for bad, words in [
        ("pager=1", "not understood"),
        ("webhook=ftp://x", "webhook=ftp://x"),
        ("email=nobody", "not an email address"),
        ("system=yes", "not understood"),
    ]:
        with pytest.raises(InvalidInputError, match=words):
            parse_channel_spec(bad)


def test_job_file_notifications_validate_per_channel_type() -> None:
    spec = {
        "name": "j",
        "prompt_id": "p",
        "schedule": {"type": "interval", "expression": "every 1h"},
        "notifications": {
            "on_failure": "every",
            "channels": [
                {"type": "webhook", "url": "https://hooks.slack.com/x", "format": "slack"},
                {"type": "email", "recipients": ["ops@example.com"]},
            ],
        },
    }
    job = JobSpec.model_validate(spec)
    assert job.notification_config is not None
    assert isinstance(job.notification_config.channels[0], WebhookChannel)
    spec["notifications"]["channels"] = [{"type": "webhook", "url": "https://x", "fromat": "x"}]  # type: ignore[index]
    with pytest.raises(ValueError, match="fromat"):
        JobSpec.model_validate(spec)


def test_the_notifications_section_of_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "claude-pilot.toml"
    path.write_text(
        "[notifications]\nrate_limit_per_hour = 20\ndefault_channels = ['system', 'log']\n"
        "[notifications.smtp]\nhost = 'mail.example.com'\nport = 587\nsecurity = 'starttls'\n"
        "password_env = 'CNP_SMTP_PASSWORD'\n"
    )
    settings = load_settings(path, environ={})
    assert settings.notifications.rate_limit_per_hour == 20
    assert [c.type for c in settings.notifications.default_channels] == ["system", "log"]
    assert settings.notifications.smtp.security == "starttls"
    path.write_text("[notifications.smtp]\nsecurity = 'ssl'\n")
    with pytest.raises(ConfigError, match="security"):
        load_settings(path, environ={})


def test_signature_is_hmac_sha256_of_timestamp_and_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"17.{}", hashlib.sha256).hexdigest()
    assert signature("k", "17", b"{}") == f"sha256={expected}"
