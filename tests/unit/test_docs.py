"""The reference pages in docs/ are generated from the code; a stale page fails here with the
command that regenerates it. Links between the hand-written pages must resolve."""

from __future__ import annotations

import re
from pathlib import Path

from cnp_tui import docgen

REPO = Path(__file__).resolve().parents[2]


def test_generated_reference_pages_are_up_to_date() -> None:
    stale = docgen.stale_pages()
    assert stale == [], (
        f"docs/{', docs/'.join(stale)} no longer match the code: "
        "run `python -m cnp_tui.docgen` and commit the result"
    )


def test_the_references_cover_every_job_field_config_key_and_command() -> None:
    job_file = docgen.job_file_reference()
    for key in ("`execution`", "`retry`", "`notifications`", "`timeout_seconds`", "`prompt`"):
        assert key in job_file
    config = docgen.config_reference()
    for key in ("## [notifications]", "`session_timeout`", "`rate_limit_per_hour`"):
        assert key in config
    cli = docgen.cli_reference()
    for command in ("cnp job apply", "cnp job batch-pause", "cnp config validate", "cnp db backup"):
        assert f"`{command}`" in cli


def test_check_mode_reports_a_stale_page(tmp_path: Path) -> None:
    for name, render in docgen.PAGES.items():
        (tmp_path / name).write_text(render(), encoding="utf-8")
    assert docgen.stale_pages(tmp_path) == []
    (tmp_path / "config.md").write_text("old", encoding="utf-8")
    assert docgen.stale_pages(tmp_path) == ["config.md"]


def test_links_in_readme_and_docs_resolve() -> None:
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    for page in pages:
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
