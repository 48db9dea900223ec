"""The command palette (``ctrl+p``): the current screen's actions, theme switch, jump to a job."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from cnp_tui.ui.app import CnpApp


class CnpCommands(Provider):
    """Context-aware: what you can do where you are, plus themes and every job by name."""

    async def startup(self) -> None:
        app: CnpApp = self.app  # type: ignore[assignment]
        self._entries: list[tuple[str, Callable[[], Any], str]] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if binding.system or not binding.description or binding.action in seen:
                continue
            if binding.action in ("command_palette",):
                continue
            seen.add(binding.action)
            run = partial(app.run_action, binding.action, active.node)
            self._entries.append((binding.description, run, f"key {active.binding.key}"))
        for name in sorted(app.available_themes):
            self._entries.append(
                (f"Theme: {name}", partial(setattr, app, "theme", name), "switch the colours")
            )
        if app.service is not None:
            for job in await app.service.list_jobs():
                self._entries.append(
                    (f"Job: {job.name}", partial(app.call_later, app.open_job, job.id), job.id)
                )

    async def discover(self) -> Hits:
        for label, run, help_text in self._entries:
            if not label.startswith("Job: "):
                yield DiscoveryHit(label, run, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for label, run, help_text in self._entries:
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), run, help=help_text)
