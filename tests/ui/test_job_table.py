"""The job table on its own: rows drawn once are redrawn when what they show changes."""

from __future__ import annotations

from textual.app import App, ComposeResult

from cnp_tui.ui.widgets.job_table import Column, JobTable


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield JobTable(id="jobs")


def row(table: JobTable, index: int) -> tuple[str, set[str]]:
    """The text of data row ``index`` and the colours it is drawn in."""
    strip = table.render_line(index + 1)
    colours = {str(s.style.color) for s in strip if s.style is not None and s.style.color}
    return strip.text, colours


async def test_rows_follow_their_cells_dimming_and_the_theme() -> None:
    app = TableApp()
    async with app.run_test(size=(60, 10)) as pilot:
        table = app.query_one(JobTable)
        table.columns = [Column("name", "Name", 12, 0), Column("status", "Status", 10, 1)]
        table.cells = {"a": {"name": ("alpha", ""), "status": ("active", "success")}}
        table.set_rows(["a"])
        await pilot.pause()
        text, active_colours = row(table, 0)
        assert "alpha" in text and "active" in text
        assert row(table, 0)[0] == text, "drawn again from the cache, the same"

        table.cells["a"] = {"name": ("alpha", ""), "status": ("failed", "error")}
        text, failed_colours = row(table, 0)
        assert "failed" in text and "active" not in text
        assert failed_colours != active_colours

        table.dimmed.add("a")
        assert row(table, 0)[1] != failed_colours, "a paused job is drawn muted"
        table.dimmed.clear()

        app.theme = "textual-light"
        await pilot.pause()
        assert row(table, 0)[1] != failed_colours, "a new theme recolours the row"
