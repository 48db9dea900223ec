"""Pilot-driven flows on a real SQLite home, with the engine in the same process running the
bundled simulator as claude: what an operator does, checked in the database and on screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Label, Static

from cnp_tui.config import Settings
from cnp_tui.core.models import ExecutionStatus, JobStatus
from cnp_tui.errors import NotFoundError
from cnp_tui.paths import Paths
from cnp_tui.service import JobService
from cnp_tui.store.sqlite import SqliteStore
from cnp_tui.ui.app import CnpApp
from cnp_tui.ui.screens.dialogs import ConfirmScreen, HelpScreen
from cnp_tui.ui.screens.execution import ExecutionScreen
from cnp_tui.ui.screens.forms import JobFormScreen
from cnp_tui.ui.screens.history import HistoryScreen
from cnp_tui.ui.screens.job_detail import JobDetailScreen
from cnp_tui.ui.screens.jobs import JobListScreen, visible_columns
from cnp_tui.ui.widgets.job_table import JobTable
from tests.conftest import make_settings
from tests.integration.test_notify import Hook
from tests.integration.test_notify import hook as hook  # the webhook fixture
from tests.ui.helpers import screen_text, wait_for


async def seed(paths: Paths, settings: Settings, *jobs: tuple[str, str]) -> None:
    """Prompts and jobs (name, prompt text), a yearly cron each so nothing fires by itself."""
    paths.ensure_home()
    async with SqliteStore(paths.database) as store:
        service = JobService(store, settings)
        for name, text in jobs:
            await service.create_prompt(name, text, prompt_id=name)
            await service.create_job(
                {
                    "name": name,
                    "prompt_id": name,
                    "schedule": {"type": "cron", "expression": "0 0 1 1 *"},
                }
            )
        await store.flush()


def job_table(app: CnpApp) -> JobTable:
    return app.screen.query_one("#jobs", JobTable)


def row_names(app: CnpApp) -> list[str]:
    if not isinstance(app.screen, JobListScreen):
        return []
    table = job_table(app)
    return [table.row_text(i)[0].removeprefix("▶ ") for i in range(table.row_count)]


@pytest.fixture
def ui_settings() -> Settings:
    return make_settings()


async def test_create_a_job_through_the_form_bad_then_good_cron(
    paths: Paths, ui_settings: Settings
) -> None:
    await seed(paths, ui_settings, ("existing", "@sim lines=1"))
    app = CnpApp(paths, ui_settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: row_names(app) == ["existing"], "the job list")
        assert app.mode_name == "owner"
        await pilot.press("n")
        form = await wait_for(
            pilot, lambda: isinstance(app.screen, JobFormScreen) and app.screen, "the job form"
        )
        form.query_one("#name", Input).value = "nightly"
        expression = form.query_one("#expression", Input)
        expression.value = "61 9 * * *"
        await pilot.pause()
        preview = form.query_one("#preview", Static)
        assert "✗" in str(preview.render()) and "minute" in str(preview.render()).lower()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, JobFormScreen), "a bad cron must keep the form open"
        assert "schedule" in str(form.query_one("#errors", Static).render())
        assert expression.has_class("-invalid")

        expression.value = "30 2 * * *"
        await pilot.pause()
        assert "At 02:30 every day" in str(preview.render())
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, JobListScreen), "the form to close")
        await wait_for(pilot, lambda: "nightly" in row_names(app), "the new job in the list")
        job = await app.service.get_job("nightly")
        assert job.schedule.expression == "30 2 * * *"
        assert job.prompt_id == "existing"


async def test_execute_watch_the_log_pause_resume_delete(
    paths: Paths, ui_settings: Settings
) -> None:
    await seed(paths, ui_settings, ("reviewer", "Review.\n@sim lines=40 duration=2"))
    app = CnpApp(paths, ui_settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: row_names(app) == ["reviewer"], "the job list")
        await pilot.press("x")
        await wait_for(pilot, lambda: app.service.history("reviewer", last=1), "a queued execution")
        await pilot.press("l")
        screen = await wait_for(
            pilot, lambda: isinstance(app.screen, ExecutionScreen) and app.screen, "the log"
        )
        view = screen.log_view
        await wait_for(pilot, lambda: 0 < len(view.lines) < 40, "the first lines, live")
        execution = await wait_for(
            pilot,
            lambda: _finished(app, screen.execution_id),
            "the execution to finish",
            within=30,
        )
        assert execution.status is ExecutionStatus.COMPLETED
        await wait_for(pilot, lambda: view.last_seq >= execution.log_lines, "every line")
        seqs = [seq for seq, _, _ in view.lines]
        assert seqs == list(range(1, execution.log_lines + 1)), "in order, none lost or doubled"
        steps = [text for _, _, text in view.lines if text.startswith("Working on it")]
        assert steps == [f"Working on it: step {n}." for n in range(1, 41)]
        await pilot.press("escape")

        await pilot.press("p")
        await wait_for(
            pilot, lambda: _status(app, "reviewer", JobStatus.PAUSED), "the job to pause"
        )
        await wait_for(pilot, lambda: job_table(app).row_text(0)[1] == "paused", "paused")
        await pilot.press("p")
        await wait_for(
            pilot, lambda: _status(app, "reviewer", JobStatus.ACTIVE), "the job to resume"
        )

        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm")
        await pilot.press("n")
        await pilot.pause()
        assert (await app.service.get_job("reviewer")).name == "reviewer"
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirm")
        await pilot.press("y")
        await wait_for(pilot, lambda: row_names(app) == [], "the job to leave the list")
        with pytest.raises(NotFoundError):
            await app.service.get_job("reviewer")


async def _finished(app: CnpApp, execution_id: str) -> Any:
    execution = await app.service.get_execution(execution_id)
    return execution if execution.status.finished else None


async def _status(app: CnpApp, ref: str, status: JobStatus) -> bool:
    return (await app.service.get_job(ref)).status is status


async def test_history_opens_an_execution_and_detail_shows_the_job(
    paths: Paths, ui_settings: Settings
) -> None:
    await seed(paths, ui_settings, ("flaky", "@sim fail lines=2"))
    app = CnpApp(paths, ui_settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: row_names(app) == ["flaky"], "the job list")
        await app.service.execute_job("flaky")
        await wait_for(pilot, lambda: _any_failed(app), "a failed execution")
        await pilot.press("enter")
        detail = await wait_for(
            pilot, lambda: isinstance(app.screen, JobDetailScreen) and app.screen, "job detail"
        )
        await wait_for(
            pilot, lambda: detail.query_one("#runs", DataTable).row_count >= 1, "its runs"
        )
        await pilot.press("h")
        history = await wait_for(
            pilot, lambda: isinstance(app.screen, HistoryScreen) and app.screen, "history"
        )
        table = history.query_one("#executions", DataTable)
        await wait_for(pilot, lambda: table.row_count >= 1, "history rows")
        assert "failed" in {str(table.get_row_at(i)[2]) for i in range(table.row_count)}
        table.move_cursor(row=table.row_count - 1)  # the oldest: the first, failed attempt
        await pilot.press("enter")
        screen = await wait_for(
            pilot, lambda: isinstance(app.screen, ExecutionScreen) and app.screen, "execution"
        )
        await wait_for(pilot, lambda: screen.execution is not None, "the execution details")
        shown = screen_text(app)
        assert screen.execution.id in shown and "failed" in shown and "exit" in shown
        await pilot.press("escape", "escape", "escape")
        await wait_for(pilot, lambda: isinstance(app.screen, JobListScreen), "home again")


async def _any_failed(app: CnpApp) -> bool:
    found = await app.service.history(None, status=[ExecutionStatus.FAILED])
    return bool(found)


async def test_filter_sort_help_and_narrow_columns(paths: Paths, ui_settings: Settings) -> None:
    await seed(paths, ui_settings, ("alpha", "@sim"), ("beta", "@sim"), ("gamma", "@sim"))
    app = CnpApp(paths, ui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(row_names(app)) == 3, "the job list")
        headers = [c.label for c in job_table(app).columns]
        assert headers[:5] == ["Name", "Status", "Next", "Last", "Schedule"]
        assert "Tags" not in headers, "at 80 columns the least important columns collapse"
        await pilot.press("slash", "b", "e")
        await wait_for(pilot, lambda: row_names(app) == ["beta"], "the filter")
        await pilot.press("escape")
        await wait_for(pilot, lambda: len(row_names(app)) == 3, "the filter cleared")
        await pilot.press("s")  # next -> name
        assert row_names(app) == ["alpha", "beta", "gamma"]
        await pilot.press("question_mark")
        help_screen = await wait_for(
            pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen, "help"
        )
        ids = {row[2] for row in help_screen.rows}
        assert {"job.new", "job.execute", "job.pause", "job.delete", "app.quit"} <= ids
        await pilot.press("escape")
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        headers = [c.label for c in job_table(app).columns]
        assert "Tags" in headers, "a wide pane shows every column"
    assert [c.key for c in visible_columns(60)][:3] == ["name", "status", "next"]


async def test_keys_are_overridden_from_the_config(paths: Paths) -> None:
    settings = make_settings(ui={"keys": {"job.new": "a"}})
    await seed(paths, settings, ("one", "@sim"))
    app = CnpApp(paths, settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: row_names(app) == ["one"], "the job list")
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, JobFormScreen), "the form via 'a'")
        await pilot.press("escape")
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, JobFormScreen), "the old key no longer opens it"


async def test_theme_switch_from_the_palette_and_a_broken_theme_file(
    paths: Paths, ui_settings: Settings, tmp_path: Path
) -> None:
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "ok.toml").write_text(
        'name = "sunny"\ndark = false\n[colors]\nprimary = "#aa5500"\n', encoding="utf-8"
    )
    (themes / "broken.toml").write_text(
        'name = "broken"\n[colors]\nprimary = "not-a-colour"\n', encoding="utf-8"
    )
    app = CnpApp(paths, ui_settings, theme="broken", themes_dir=themes, start_engine=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, JobListScreen), "the job list")
        assert app.theme == "cnp-dark", "an unknown or broken theme falls back to the default"
        assert any("broken.toml" in w and "primary" in w for w in app.startup_warnings)
        assert "sunny" in app.available_themes
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Theme: sunny")
        await wait_for(pilot, lambda: _palette_has(app, "sunny"), "the palette hit")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.theme == "sunny", "the theme switch")


def _palette_has(app: CnpApp, text: str) -> bool:
    from textual.command import CommandList

    lists = app.screen.query(CommandList)
    return bool(lists) and lists.first().option_count > 0


async def test_bundled_themes_all_load(paths: Paths, ui_settings: Settings) -> None:
    app = CnpApp(paths, ui_settings, theme="cnp-high-contrast", start_engine=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, JobListScreen), "the job list")
        assert app.theme == "cnp-high-contrast"
        assert {"cnp-dark", "cnp-light", "cnp-high-contrast"} <= set(app.available_themes)
        assert app.startup_warnings == []
        for name in ("cnp-light", "cnp-dark"):
            app.theme = name
            await pilot.pause()


async def test_closing_the_owner_dashboard_stops_its_engine_cleanly(
    paths: Paths, ui_settings: Settings
) -> None:
    await seed(paths, ui_settings, ("one", "@sim"))
    app = CnpApp(paths, ui_settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: row_names(app) == ["one"], "the job list")
        assert app.mode_name == "owner"
        assert "engine here" in screen_text(app)
        await pilot.press("q")
    async with SqliteStore(paths.database) as store:
        assert await JobService(store, ui_settings).live_engine() is None, "lease released"


async def test_no_color_turns_colour_off(
    paths: Paths, ui_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(paths, ui_settings, ("one", "@sim"))
    monkeypatch.setenv("NO_COLOR", "1")
    app = CnpApp(paths, ui_settings, start_engine=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: row_names(app) == ["one"], "the job list")
        svg = app.export_screenshot()
    for colour in ("#5fafff", "#5fd787", "#ff5f5f"):  # cnp-dark's primary, success, error
        assert colour not in svg.lower()


async def test_execution_screen_shows_how_its_notifications_were_delivered(
    paths: Paths, ui_settings: Settings, hook: Hook
) -> None:
    await seed(paths, ui_settings, ("announced", "@sim lines=1"))
    async with SqliteStore(paths.database) as store:
        await JobService(store, ui_settings).update_job(
            "announced",
            {
                "notifications": {
                    "on_success": True,
                    "channels": [{"type": "webhook", "url": hook.url}],
                }
            },
        )
    app = CnpApp(paths, ui_settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: row_names(app) == ["announced"], "the job list")
        for answer, shown in ((200, "sent"), (404, "failed")):
            hook.script = [(answer, {})]
            execution = await app.service.execute_job("announced")
            app.push_screen(ExecutionScreen(execution.id))
            await wait_for(
                pilot, lambda: isinstance(app.screen, ExecutionScreen) and app.screen, "execution"
            )
            await wait_for(
                pilot,
                lambda shown=shown: (
                    "success → webhook" in screen_text(app) and shown in screen_text(app)
                ),
                f"the notification shown as {shown}",
                within=20,
            )
            if answer == 404:
                assert "404" in screen_text(app), "the delivery error is shown"
            await pilot.press("escape")


async def test_a_system_channel_notification_becomes_a_toast(
    paths: Paths, ui_settings: Settings
) -> None:
    from cnp_tui.core.events import SystemNotification

    await seed(paths, ui_settings, ("existing", "@sim lines=1"))
    app = CnpApp(paths, ui_settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: row_names(app) == ["existing"], "the job list")
        app.bus.publish(
            SystemNotification(event="failure", subject="cnp: existing failed", body="exit 1")
        )
        await wait_for(
            pilot,
            lambda: any(n.title == "cnp: existing failed" for n in app._notifications),
            "the toast",
        )


async def test_the_job_form_sets_notifications_and_refuses_a_bad_channel(
    paths: Paths, ui_settings: Settings
) -> None:
    await seed(paths, ui_settings, ("existing", "@sim lines=1"))
    app = CnpApp(paths, ui_settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: row_names(app) == ["existing"], "the job list")
        await pilot.press("e")
        form = await wait_for(
            pilot, lambda: isinstance(app.screen, JobFormScreen) and app.screen, "the edit form"
        )
        form.query_one("#notify_on", Input).value = "every-failure,recovery"
        form.query_one("#channels", Input).value = "pager=http://x"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, JobFormScreen), "a bad channel keeps the form open"
        assert form.query_one("#channels", Input).has_class("-invalid")
        assert "not understood" in str(form.query_one("#errors", Static).render())
        form.query_one("#channels", Input).value = "webhook=http://127.0.0.1:9/hook log"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, JobListScreen), "the form closed")
        config = (await app.service.get_job("existing")).notification_config
        assert config is not None and config.on_failure == "every" and config.on_recovery
        assert [c.type for c in config.channels] == ["webhook", "log"]
        await pilot.press("e")  # the edit form shows what is stored
        again = await wait_for(
            pilot, lambda: isinstance(app.screen, JobFormScreen) and app.screen, "the edit form"
        )
        assert again.query_one("#notify_on", Input).value == "every-failure,recovery"
        assert again.query_one("#channels", Input).value == "webhook=http://127.0.0.1:9/hook log"


async def test_edit_and_pause_act_on_the_stored_job_not_the_tables_copy(
    paths: Paths, ui_settings: Settings
) -> None:
    """A change the table has not shown yet (a save a moment ago, another process) is what
    the edit form shows and what pause/resume toggles: the form must not write old values back."""
    await seed(paths, ui_settings, ("existing", "@sim lines=1"))
    app = CnpApp(paths, ui_settings)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: row_names(app) == ["existing"], "the job list")
        # Straight to the store, with no refresh tick in between: the table's copy is stale.
        await app.service.update_job("existing", {"priority": 9, "tags": ["fresh"]})
        await app.service.pause_job("existing")
        await pilot.press("e")
        form = await wait_for(
            pilot, lambda: isinstance(app.screen, JobFormScreen) and app.screen, "the edit form"
        )
        assert form.query_one("#priority", Input).value == "9"
        assert "fresh" in form.query_one("#tags", Input).value
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, JobListScreen), "the list again")
        await pilot.press("p")  # the stored job is paused: p resumes it
        await wait_for(
            pilot, lambda: _status(app, "existing", JobStatus.ACTIVE), "the job to resume"
        )


async def test_quitting_with_runs_in_flight_asks_first(paths: Paths) -> None:
    """The owner dashboard's engine stops with it: q asks while executions run here; no keeps
    everything running, yes stops them, records them as interrupted and queues their retry."""
    settings = make_settings(executor={"shutdown_grace": "0.5s"})
    await seed(paths, settings, ("long", "@sim lines=2 duration=60"))
    app = CnpApp(paths, settings)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: row_names(app) == ["long"], "the job list")
        await pilot.press("x")
        await wait_for(
            pilot,
            lambda: app.runtime is not None and app.runtime.scheduler.running_count == 1,
            "the run to start",
        )
        await pilot.press("q")
        dialog = await wait_for(
            pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen, "the question"
        )
        assert "1 execution(s)" in str(dialog.query_one("#question", Label).render())
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, JobListScreen), "back to the list")
        assert app.runtime is not None and app.runtime.scheduler.running_count == 1
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await wait_for(pilot, lambda: app.return_code is not None, "the app to exit", within=15)
    async with SqliteStore(paths.database) as store:
        service = JobService(store, settings)
        runs = await service.history("long")
        assert [(e.trigger.value, e.status.value) for e in runs] == [
            ("retry", "queued"),  # the job's retry policy runs it again with the next engine
            ("manual", "interrupted"),
        ]
        assert await service.live_engine() is None, "lease released"
