"""The log view on its own: 100,000 lines, follow/unfollow, search, wrap, stream styles."""

from __future__ import annotations

from datetime import UTC, datetime

from textual.app import App, ComposeResult

from cnp_tui.core.models import LogLine
from cnp_tui.ui.widgets.log_view import LogView

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def lines(start: int, count: int, stream: str = "assistant") -> list[LogLine]:
    return [
        LogLine(execution_id="e", seq=seq, ts=T0, stream=stream, text=f"line {seq}")
        for seq in range(start, start + count)
    ]


def last_row(view: LogView) -> str:
    """The text of the bottom row on screen."""
    return view.render_line(view.scrollable_content_region.height - 1).text


class LogApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(id="log")


async def test_a_100000_line_log_follows_scrolls_searches_and_wraps() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        view.focus()
        batch = [
            LogLine(execution_id="e", seq=s, ts=T0, stream="assistant", text=f"line {s}")
            for s in range(1, 100_001)
        ]
        assert view.add_lines(batch) == 100_000
        await pilot.pause()
        assert view.following and view.scroll_offset.y == view.max_scroll_y
        assert last_row(view).startswith("line 100000")

        assert view.add_lines(lines(99_991, 20)) == 10, "lines already shown are dropped by seq"
        await pilot.pause()
        assert last_row(view).startswith("line 100010")

        await pilot.press("k", "k")
        assert not view.following, "scrolling up stops following"
        view.add_lines(lines(100_011, 5))
        await pilot.pause()
        assert not last_row(view).startswith("line 100015")
        await pilot.press("G")
        await pilot.pause()
        assert view.following
        assert last_row(view).startswith("line 100015")

        assert view.find("line 5000") == 4999
        assert not view.following
        assert any(
            view.render_line(y).text.startswith("line 5000 ")
            or view.render_line(y).text.rstrip() == "line 5000"
            for y in range(view.scrollable_content_region.height)
        )

        view.add_lines(
            [LogLine(execution_id="e", seq=100_016, ts=T0, stream="stderr", text="x" * 200)]
        )
        await pilot.press("G", "w")
        await pilot.pause()
        assert view.wrap
        bottom = [view.render_line(y).text for y in range(view.scrollable_content_region.height)]
        assert sum(1 for row in bottom if "x" * 20 in row) >= 3, "a long line wraps onto rows"
        assert any(row.startswith("! x") for row in bottom), "stderr lines are marked"


async def test_streams_are_styled_apart() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        view = app.query_one(LogView)
        view.add_lines(lines(1, 1, "assistant") + lines(2, 1, "stderr") + lines(3, 1, "tool"))
        await pilot.pause()
        view.action_top()
        await pilot.pause()
        styles = [view.render_line(y)._segments[0].style for y in range(3)]
        assert len({str(style.color) for style in styles if style}) == 3
