"""Job files: jobs as YAML, kept in git and applied with ``cnp job apply``.

A file holds one job (a mapping) or several (a list of mappings, or a mapping with a ``jobs``
list). Each job is a :class:`JobDocument`: the fields of :class:`~cnp_tui.core.models.JobSpec`
(with the spec's section names ``execution``, ``retry``, ``notifications``, ``resource_limits``)
and, instead of ``prompt_id``, an inline ``prompt: {title, content}`` so that a file carries its
prompt text. Loading keeps PyYAML's node marks so that every error names its line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, PrivateAttr, ValidationError, model_validator

from cnp_tui.config import is_duration
from cnp_tui.core.durations import format_duration, parse_duration
from cnp_tui.core.models import SECTION_ALIASES, CnpModel, Job, JobSpec, Prompt, slugify
from cnp_tui.errors import InvalidInputError

__all__ = ["SECTION_ALIASES", "JobDocument", "JobFileError", "load_job_file"]


class InlinePrompt(CnpModel):
    """A prompt written in the job file itself; created or updated when the file is applied."""

    id: str | None = Field(
        default=None, description="Prompt id (slug); default: made from the title."
    )
    title: str = Field(min_length=1, description="Human title of the prompt.")
    content: str = Field(min_length=1, description="The prompt text given to `claude -p`.")
    tags: list[str] = Field(default_factory=list, description="Labels of the prompt.")

    @property
    def prompt_id(self) -> str:
        return self.id or slugify(self.title)


class JobDocument(JobSpec):
    """One job of a job file: a job spec whose prompt is given by id or inline."""

    prompt_id: str | None = Field(  # type: ignore[assignment]
        default=None, description="Id of an existing prompt (or give `prompt` inline)."
    )
    prompt: InlinePrompt | None = Field(
        default=None, description="The prompt inline: {id?, title, content, tags?}."
    )
    _line: int | None = PrivateAttr(default=None)  # where the job starts in its file

    @property
    def line(self) -> int | None:
        """The line of the file where this job starts (None when not read from a file)."""
        return self._line

    def field_line(self, field_path: str) -> int | None:
        """Best line for a problem with ``field_path`` found after loading."""
        return self._field_lines.get(field_path, self._line) if self._line else None

    _field_lines: dict[str, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _one_prompt(self) -> JobDocument:
        if self.prompt is not None and self.prompt_id is None:
            self.prompt_id = self.prompt.prompt_id
        elif self.prompt is not None and self.prompt_id != self.prompt.prompt_id:
            raise ValueError(
                f"prompt_id '{self.prompt_id}' differs from the inline prompt's id "
                f"'{self.prompt.prompt_id}': give one of prompt_id and prompt"
            )
        if self.prompt_id is None:
            raise ValueError(
                "the job needs a prompt: give prompt_id (an existing prompt) or "
                "prompt: {title, content}"
            )
        Prompt.model_validate({"id": self.prompt_id, "title": "t", "content": "c"})
        return self

    def spec(self) -> JobSpec:
        """The job spec (the inline prompt becomes its id)."""
        return JobSpec.model_validate(self.model_dump(exclude={"prompt"}))

    def inline_prompt(self) -> Prompt | None:
        if self.prompt is None:
            return None
        return Prompt(
            id=self.prompt.prompt_id,
            title=self.prompt.title,
            content=self.prompt.content,
            tags=self.prompt.tags,
        )


@dataclass
class Problem:
    """One thing wrong with one job of a file."""

    index: int
    name: str | None
    path: str
    message: str
    line: int | None

    def __str__(self) -> str:
        who = f"job {self.index + 1}" + (f" '{self.name}'" if self.name else "")
        where = f" (line {self.line})" if self.line else ""
        field_path = f"{self.path}: " if self.path else ""
        return f"{who}{where}: {field_path}{self.message}"


class JobFileError(InvalidInputError):
    """A job file that does not load or validate; lists every problem."""

    def __init__(self, source: str, problems: Sequence[Problem | str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(
            f"{source}: {len(self.problems)} problem(s):\n{lines}",
            hint="fix them and run again; nothing was changed",
        )


@dataclass
class JobFile:
    """The jobs of one file, in order, with the source they came from."""

    source: str
    documents: list[JobDocument] = field(default_factory=list)


# --- loading ----------------------------------------------------------------------------------


def _line_of(node: yaml.Node, path: Sequence[Any]) -> int | None:
    """The 1-based line of the deepest node along ``path`` (a pydantic error location)."""
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    # The key's own line: for a bad key that is the line to fix.
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
            if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
                line = node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _message(error: Mapping[str, Any], loc: Sequence[Any]) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        known = _known_fields(loc[:-1])
        guess = difflib.get_close_matches(str(loc[-1]), known, n=1)
        if guess:
            return f"is not a known field (did you mean {guess[0]}?)"
        return f"is not a known field (known here: {', '.join(known)})"
    if error["type"] == "missing":
        return "is required"
    return message


def _known_fields(loc: Sequence[Any]) -> list[str]:
    """The field names a job file accepts at ``loc`` (aliases as the file writes them)."""
    model: type[BaseModel] = JobDocument
    for part in loc:
        fields = {
            SECTION_ALIASES.get(name, name): info for name, info in model.model_fields.items()
        }
        info = fields.get(str(part)) or model.model_fields.get(str(part))
        annotation = info.annotation if info else None
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return []
        model = nested[0]
    return sorted(SECTION_ALIASES.get(name, name) for name in model.model_fields)


def _job_nodes(root: yaml.Node, source: str) -> list[yaml.Node]:
    if isinstance(root, yaml.SequenceNode):
        return list(root.value)
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "jobs" and isinstance(value, yaml.SequenceNode):
                if len(root.value) > 1:
                    raise JobFileError(
                        source, ["a file with a `jobs:` list must hold nothing else at the top"]
                    )
                return list(value.value)
        return [root]
    raise JobFileError(
        source, [f"line {root.start_mark.line + 1}: expected a job (a mapping) or a list of jobs"]
    )


def parse_job_file(text: str, source: str = "<job file>") -> JobFile:
    """Parse and validate the YAML text of a job file; raise JobFileError listing every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise JobFileError(source, [f"{where}not valid YAML: {problem}"]) from None
    if root is None:
        raise JobFileError(source, ["the file is empty: it should hold a job or a list of jobs"])
    nodes = _job_nodes(root, source)
    problems: list[Problem | str] = []
    documents: list[JobDocument] = []
    names: dict[str, int] = {}
    for index, node in enumerate(nodes):
        data = yaml.SafeLoader(yaml.serialize(node)).get_single_data()
        name = data.get("name") if isinstance(data, dict) else None
        name = name.strip() if isinstance(name, str) else None
        if not isinstance(data, dict):
            problems.append(
                Problem(index, None, "", "expected a mapping of job fields", _line_of(node, []))
            )
            continue
        if name and name in names:
            problems.append(
                Problem(
                    index,
                    name,
                    "name",
                    f"the name is also used by job {names[name] + 1}; names are unique",
                    _line_of(node, ["name"]),
                )
            )
        elif name:
            names[name] = index
        try:
            document = JobDocument.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                loc = [part for part in error["loc"] if part != "__root__"]
                problems.append(
                    Problem(
                        index,
                        name,
                        ".".join(str(part) for part in loc),
                        _message(error, loc),
                        _line_of(node, loc),
                    )
                )
            continue
        document._line = _line_of(node, [])
        document._field_lines = {
            key: line
            for key in ("name", "prompt_id", "prompt", "schedule")
            if (line := _line_of(node, [key])) is not None
        }
        documents.append(document)
    if problems:
        # In file order, so that an editor can walk down the list.
        problems.sort(key=lambda p: (p.index, p.line or 0) if isinstance(p, Problem) else (-1, 0))
        raise JobFileError(source, problems)
    if not documents:
        raise JobFileError(source, ["the file holds no jobs"])
    return JobFile(source, documents)


def load_job_file(path: str | Path) -> JobFile:
    """Read and validate a job file (``-`` reads stdin)."""
    import sys

    if str(path) == "-":
        return parse_job_file(sys.stdin.read(), "<stdin>")
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError(f"job file {file} does not exist") from None
    except OSError as exc:
        raise InvalidInputError(f"job file {file} cannot be read: {exc.strerror}") from None
    return parse_job_file(text, str(file))


# --- export -----------------------------------------------------------------------------------


def job_to_document(job: Job, prompt: Prompt | None) -> dict[str, Any]:
    """A job as a job-file mapping: defaults left out, sections under the file's names."""
    data = job.spec().model_dump(mode="json", exclude_defaults=True)
    data["schedule"] = job.schedule.model_dump(mode="json", exclude_none=True)
    if job.notification_config is not None and "notification_config" in data:
        # Each channel keeps its `type`: the discriminator is a default, yet the file needs it.
        data["notification_config"]["channels"] = [
            {"type": channel.type, **channel.model_dump(mode="json", exclude_defaults=True)}
            for channel in job.notification_config.channels
        ]
    ordered: dict[str, Any] = {"name": data.pop("name")}
    prompt_id = data.pop("prompt_id")
    if prompt is not None:
        inline: dict[str, Any] = {"id": prompt.id, "title": prompt.title, "content": prompt.content}
        if prompt.tags:
            inline["tags"] = list(prompt.tags)
        ordered["prompt"] = inline
    else:
        ordered["prompt_id"] = prompt_id
    ordered["schedule"] = data.pop("schedule")
    for key, value in data.items():
        ordered[SECTION_ALIASES.get(key, key)] = value
    _durations_as_text(ordered, JobSpec)
    return ordered


def _duration_text(seconds: float) -> str | float:
    """``15m`` for 900; the number itself when text would lose precision (90.5 -> 1m31s)."""
    text = format_duration(seconds)
    return text if parse_duration(text) == seconds else seconds


def file_path(path: str) -> str:
    """A field path with the job file's section names (``retry.max_attempts``)."""
    head, dot, rest = path.partition(".")
    return SECTION_ALIASES.get(head, head) + dot + rest


def _durations_as_text(data: dict[str, Any], model: type[BaseModel]) -> None:
    """Seconds back to ``15m``-style text, field by field, as a person would write them."""
    fields = {}
    for name, info in model.model_fields.items():
        fields[name] = info
        alias = SECTION_ALIASES.get(name)
        if alias:
            fields[alias] = info
    for key, value in data.items():
        info = fields.get(key)
        if info is None:
            continue
        if is_duration(info):
            if isinstance(value, int | float):
                data[key] = _duration_text(value)
            elif isinstance(value, list):
                data[key] = [_duration_text(v) for v in value]
            continue
        annotation = info.annotation
        if (
            isinstance(value, dict)
            and isinstance(annotation, type)
            and issubclass(annotation, BaseModel)
        ):
            _durations_as_text(value, annotation)


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line strings (prompt texts) as ``|`` literals."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def dump_documents(documents: Iterable[Mapping[str, Any]], header: str | None = None) -> str:
    """YAML text of a job file holding ``documents`` (always a list)."""
    text = yaml.dump(
        list(documents), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    return text
