"""The prompt library: prompts, which jobs use each; create, edit, delete."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from cnp_tui.core.models import Prompt
from cnp_tui.ui.screens.base import CnpScreen


class PromptLibraryScreen(CnpScreen):
    """Every prompt and the jobs that run it."""

    SUB_TITLE = "prompts"
    BINDINGS: ClassVar = [
        Binding("escape", "back", "Back", id="prompts.back"),
        Binding("n", "new", "New", id="prompts.new"),
        Binding("e,enter", "edit", "Edit", id="prompts.edit"),
        Binding("d", "delete", "Delete", id="prompts.delete"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.prompts: dict[str, Prompt] = {}

    def body(self) -> ComposeResult:
        table: DataTable[str] = DataTable(id="prompts", cursor_type="row")
        table.add_column("Id", width=22)
        table.add_column("Title", width=24)
        table.add_column("Used by", width=24)
        table.add_column("Content")
        yield table
        yield Static(id="prompt-preview")

    async def reload(self) -> None:
        prompts = await self.service.list_prompts()
        users: dict[str, list[str]] = {}
        for job in await self.service.list_jobs():
            users.setdefault(job.prompt_id, []).append(job.name)
        self.prompts = {p.id: p for p in prompts}
        table = self.query_one("#prompts", DataTable)
        cursor = table.cursor_row
        table.clear()
        for prompt in prompts:
            used = users.get(prompt.id, [])
            table.add_row(
                prompt.id,
                prompt.title,
                f"{len(used)}: {', '.join(used)}" if used else "-",
                prompt.content.replace("\n", " ")[:200],
                key=prompt.id,
            )
        if prompts:
            table.move_cursor(row=min(cursor, len(prompts) - 1), animate=False)

    def _selected(self) -> Prompt | None:
        table = self.query_one("#prompts", DataTable)
        if not table.row_count:
            self.notify("no prompt selected: create one with n", severity="warning")
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.prompts.get(key or "")

    def action_back(self) -> None:
        self.dismiss()

    def action_new(self) -> None:
        from cnp_tui.ui.screens.forms import PromptFormScreen

        self.app.push_screen(PromptFormScreen(None))

    def action_edit(self) -> None:
        from cnp_tui.ui.screens.forms import PromptFormScreen

        prompt = self._selected()
        if prompt is not None:
            self.app.push_screen(PromptFormScreen(prompt))

    def action_delete(self) -> None:
        from cnp_tui.ui.screens.dialogs import ConfirmScreen

        prompt = self._selected()
        if prompt is None:
            return

        async def answered(yes: bool | None) -> None:
            if yes:
                await self.cnp.call(lambda s: s.delete_prompt(prompt.id), f"deleted {prompt.id}")

        self.app.push_screen(ConfirmScreen(f"Delete prompt '{prompt.id}'?", "Delete"), answered)
