"""The YAML job-file format: every sample loads, and every class of mistake is reported with the
job, the field path, the problem and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnp_tui.core.models import JobSpec, RetryStrategy, ScheduleType
from cnp_tui.errors import InvalidInputError
from cnp_tui.jobfiles import JobFileError, load_job_file, parse_job_file

SAMPLES = sorted((Path(__file__).resolve().parents[2] / "sample_jobs").glob("*.yaml"))


def problems_of(text: str) -> list[str]:
    with pytest.raises(JobFileError) as caught:
        parse_job_file(text, "jobs.yaml")
    assert "nothing was changed" in str(caught.value)
    return [str(problem) for problem in caught.value.problems]


def test_there_are_at_least_six_samples_with_comments() -> None:
    assert len(SAMPLES) >= 6
    for sample in SAMPLES:
        assert sample.read_text(encoding="utf-8").lstrip().startswith("#"), sample.name


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_every_sample_job_file_validates(sample: Path) -> None:
    loaded = load_job_file(sample)
    assert loaded.documents
    for document in loaded.documents:
        spec = document.spec()
        assert isinstance(spec, JobSpec)
        assert document.inline_prompt() is not None, "samples carry their prompt inline"
        assert spec.prompt_id == document.inline_prompt().id  # type: ignore[union-attr]


def test_the_chain_sample_is_two_jobs_in_order() -> None:
    [chain] = [s for s in SAMPLES if "review-then-summarise" in s.name]
    first, second = load_job_file(chain).documents
    assert (first.name, second.name) == ("pr-review", "pr-review-summary")
    assert first.schedule.type is second.schedule.type is ScheduleType.CRON


def test_spec_section_names_and_durations_are_read() -> None:
    [document] = parse_job_file(
        """
name: quality
prompt_id: code-quality-check
schedule: {type: cron, expression: "0 2 * * *", timezone: Asia/Taipei}
execution:
  timeout_seconds: 30m
  environment: {NODE_ENV: production}
retry: {max_attempts: 4, strategy: custom, delays: [30s, 5m]}
resource_limits: {max_memory_mb: 512}
notifications: {on_failure: true, channels: [{type: webhook, url: "https://x.test/h"}]}
"""
    ).documents
    spec = document.spec()
    assert spec.execution_options.timeout_seconds == 1800
    assert spec.execution_options.environment == {"NODE_ENV": "production"}
    assert spec.retry_config.strategy is RetryStrategy.CUSTOM
    assert spec.retry_config.delays == [30, 300]
    assert spec.resource_limits.max_memory_mb == 512
    assert spec.notification_config is not None
    assert spec.notification_config.channels[0].type == "webhook"


def test_a_jobs_key_or_a_list_holds_several_jobs() -> None:
    job = "- {name: %s, prompt_id: p, schedule: {type: interval, expression: every 1h}}\n"
    as_list = parse_job_file(job % "a" + job % "b").documents
    as_key = parse_job_file("jobs:\n" + "  " + job % "a" + "  " + job % "b").documents
    assert [d.name for d in as_list] == [d.name for d in as_key] == ["a", "b"]


def test_inline_prompt_id_defaults_to_the_slug_of_its_title() -> None:
    [document] = parse_job_file(
        "name: x\nprompt: {title: Daily Report!, content: hi}\n"
        "schedule: {type: interval, expression: every 1h}\n"
    ).documents
    assert document.prompt_id == "daily-report"


def test_invalid_yaml_names_the_line() -> None:
    assert problems_of("name: x\nschedule: [a\n") == [
        "line 3: not valid YAML: expected ',' or ']', but got '<stream end>'"
    ]


def test_an_empty_file_and_a_scalar_are_refused() -> None:
    assert problems_of("# nothing here\n") == [
        "the file is empty: it should hold a job or a list of jobs"
    ]
    assert problems_of("just text\n") == ["line 1: expected a job (a mapping) or a list of jobs"]
    assert problems_of("[]\n") == ["the file holds no jobs"]


def test_every_bad_job_is_listed_with_index_name_path_problem_and_line() -> None:
    text = """\
- name: first
  prompt_id: p
  schedule: {type: cron, expression: "61 * * * *"}
- name: second
  prompt_id: p
  schedule:
    type: interval
    expression: every 1h
  retry:
    max_attempts: 0
    strategee: fixed
  execution:
    timeout_seconds: soon
    claude: {modle: opus}
- name: fine
  prompt_id: p
  schedule: {type: interval, expression: every 1h}
- 42
"""
    assert problems_of(text) == [
        "job 1 'first' (line 3): schedule: invalid cron expression '61 * * * *': "
        "minute field '61' is out of range 0-59",
        "job 2 'second' (line 10): retry.max_attempts: Input should be greater than or equal to 1",
        "job 2 'second' (line 11): retry.strategee: is not a known field (did you mean strategy?)",
        "job 2 'second' (line 13): execution.timeout_seconds: 'soon' is not a duration: "
        "use a number with a unit s, m, h or d, like 90s, 15m or 1h30m",
        "job 2 'second' (line 14): execution.claude.modle: is not a known field "
        "(did you mean model?)",
        "job 4 (line 18): expected a mapping of job fields",
    ]


def test_unknown_top_level_field_suggests_the_spec_name() -> None:
    [problem] = problems_of(
        "name: x\nprompt_id: p\nschedule: {type: interval, expression: every 1h}\n"
        "retries: {max_attempts: 2}\n"
    )
    assert problem == "job 1 'x' (line 4): retries: is not a known field (did you mean retry?)"


def test_missing_fields_are_named() -> None:
    assert problems_of("prompt_id: p\n") == [
        "job 1 (line 1): name: is required",
        "job 1 (line 1): schedule: is required",
    ]
    [problem] = problems_of("name: x\nschedule: {type: interval, expression: every 1h}\n")
    assert problem.startswith("job 1 'x' (line 1): the job needs a prompt: give prompt_id")


def test_prompt_id_and_inline_prompt_must_agree() -> None:
    [problem] = problems_of(
        "name: x\nprompt_id: other\nprompt: {id: mine, title: T, content: C}\n"
        "schedule: {type: interval, expression: every 1h}\n"
    )
    assert "prompt_id 'other' differs from the inline prompt's id 'mine'" in problem


def test_duplicate_names_point_at_the_second_one() -> None:
    job = "- name: same\n  prompt_id: p\n  schedule: {type: interval, expression: every 1h}\n"
    assert problems_of(job + job) == [
        "job 2 'same' (line 4): name: the name is also used by job 1; names are unique"
    ]


def test_jobs_key_must_stand_alone() -> None:
    assert problems_of("jobs: []\nextra: 1\n") == [
        "a file with a `jobs:` list must hold nothing else at the top"
    ]


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match=r"job file .*nope\.yaml does not exist"):
        load_job_file(tmp_path / "nope.yaml")
