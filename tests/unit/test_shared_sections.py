"""The engine shares equal job sections between jobs, without letting one job change another."""

from __future__ import annotations

from cnp_tui.core.models import Job
from cnp_tui.engine.scheduler import SharedSections


def _job(name: str, timeout: float = 60.0) -> Job:
    return Job.model_validate(
        {
            "name": name,
            "prompt_id": "p",
            "schedule": {"type": "cron", "expression": "0 9 * * *"},
            "execution": {"timeout_seconds": timeout},
        }
    )


def test_equal_sections_are_one_instance() -> None:
    sections = SharedSections()
    first, second = _job("a"), _job("b")
    sections.share(first)
    sections.share(second)
    assert second.execution_options is first.execution_options
    assert second.schedule is first.schedule
    assert second.retry_config is first.retry_config


def test_a_changed_job_gets_its_own_section_and_the_others_keep_theirs() -> None:
    sections = SharedSections()
    first, second = _job("a"), _job("b")
    sections.share(first)
    sections.share(second)
    edited = _job("b", timeout=300.0)  # what the engine reads back after `cnp job update b`
    sections.share(edited)
    assert edited.execution_options.timeout_seconds == 300.0
    assert first.execution_options.timeout_seconds == 60.0
    assert edited.schedule is first.schedule  # the unchanged section is still shared
