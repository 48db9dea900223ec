"""Regenerate the README screenshot: ``python -m cnp_tui.ui.screenshot docs/dashboard.svg``.

Runs the demo for a few seconds in a throwaway home, headless, and saves the dashboard as the
SVG the app itself exports.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from cnp_tui.demo import demo_settings, seed_demo
from cnp_tui.paths import Paths
from cnp_tui.ui.app import CnpApp


async def capture(seconds: float = 8.0, size: tuple[int, int] = (120, 32)) -> str:
    """The SVG of the demo's dashboard after ``seconds``."""
    with tempfile.TemporaryDirectory(prefix="cnp-shot-") as home:
        paths = Paths(home=Path(home), config_file=None)
        settings = demo_settings()
        await seed_demo(paths, settings)
        app = CnpApp(paths, settings)
        async with app.run_test(size=size) as pilot:
            await pilot.pause(seconds)
            await app.service.execute_job("big-refactor")  # show the cooldown too
            await pilot.pause(3)
            await app.refresh_now()
            svg = app.export_screenshot(title="cnp")
            await pilot.press("q")
    return svg


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/dashboard.svg")
    svg = asyncio.run(capture())
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(svg, encoding="utf-8")


if __name__ == "__main__":
    main()
