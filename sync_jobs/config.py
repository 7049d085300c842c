"""Configuration: `config.toml` read once at start-up into typed, validated models.

Every problem is reported at once, each with its key path, what was expected and
what was found (never a secret's value). Secrets are `{ env = "VAR" }` or
`{ file = "path" }` tables, never literal strings in the file. Relative paths are
relative to the config file's folder, so a config works from any working directory.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
)

from sync_jobs.secrets import Secret, SecretSourceError, read_secret

STEP_NAMES = ("pull", "fetch", "parse", "match", "write-back")
StepName = Literal["pull", "fetch", "parse", "match", "write-back"]


def _base_dir(info: ValidationInfo) -> Path:
    context = info.context or {}
    return Path(context.get("base_dir", "."))


def _resolve_path(value: Path, info: ValidationInfo) -> Path:
    path = value.expanduser()
    return path if path.is_absolute() else (_base_dir(info) / path).resolve()


def _resolve_secret(value: Any, info: ValidationInfo) -> Secret:
    if isinstance(value, Secret):
        return value
    if isinstance(value, str):
        raise ValueError(
            'a secret must come from `{ env = "VAR" }` or `{ file = "path" }`, '
            "found a literal string (its value is not shown)"
        )
    if not isinstance(value, dict) or set(value) - {"env", "file"}:
        raise ValueError('expected `{ env = "VAR" }` or `{ file = "path" }`')
    try:
        return read_secret(env=value.get("env"), file=value.get("file"), base_dir=_base_dir(info))
    except SecretSourceError as exc:
        raise ValueError(str(exc)) from None


def _check_cron(value: str | None) -> str | None:
    if value is not None and not croniter.is_valid(value):
        raise ValueError(f"not a cron expression (minute hour day month weekday): {value!r}")
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
    return value


ConfigPath = Annotated[Path, AfterValidator(_resolve_path)]
SecretValue = Annotated[Secret, PlainValidator(_resolve_secret)]


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, arbitrary_types_allowed=True, validate_default=True
    )


class LedgerConfig(_Strict):
    """Where the ledger lives: a SQLAlchemy URL; default a SQLite file in `var_dir`."""

    url: str | None = None
    password: SecretValue | None = None


class FilesBooksConfig(_Strict):
    """The embedded books host: a folder of CSV files (see README, "files contract")."""

    kind: Literal["files"]
    path: ConfigPath


class FolderSourceConfig(_Strict):
    """Bank files dropped into a local folder; processed ones move to `processed`."""

    kind: Literal["folder"]
    path: ConfigPath
    pattern: str = "*"
    processed: ConfigPath | None = None


BooksConfig = Annotated[FilesBooksConfig, Field(discriminator="kind")]
SourceConfig = Annotated[FolderSourceConfig, Field(discriminator="kind")]
_KINDS = {"files", "folder"}


class JobConfig(_Strict):
    """A named list of steps over one books host and some bank sources."""

    books: str
    sources: list[str] = Field(default_factory=list)
    steps: list[StepName] = Field(default_factory=lambda: list(STEP_NAMES))
    schedule: Annotated[str | None, AfterValidator(_check_cron)] = None
    timezone: Annotated[str, AfterValidator(_check_timezone)] = "UTC"


class NotifyConfig(_Strict):
    """Who hears about a job that could not do its work."""

    command: list[str] = Field(default_factory=list)
    webhook_url: SecretValue | None = None


class Config(_Strict):
    """The whole `config.toml`."""

    var_dir: ConfigPath = Path("var")
    ledger: LedgerConfig = LedgerConfig()
    books: dict[str, BooksConfig] = Field(default_factory=dict)
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    jobs: dict[str, JobConfig] = Field(default_factory=dict)
    notify: NotifyConfig = NotifyConfig()


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ConfigError(Exception):
    """Every problem found in a config file, each with its key path."""

    def __init__(self, file: Path, problems: list[ConfigProblem]) -> None:
        self.file = file
        self.problems = problems
        lines = "\n".join(f"  {problem}" for problem in problems)
        super().__init__(f"{file}: {len(problems)} problem(s) in the configuration:\n{lines}")


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A validated config with where it came from and a hash for decision lineage."""

    config: Config
    file: Path
    sha256: str


def _describe(error: Any) -> ConfigProblem:
    loc = list(error["loc"])
    # A tagged union puts the `kind` tag into the location (books.main.files.path):
    # drop it, the reader knows the kind they wrote.
    if len(loc) >= 3 and loc[0] in {"books", "sources"} and loc[2] in _KINDS:
        del loc[2]
    path = ".".join(str(part) for part in loc) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (misspelled?)"
    elif error["type"] == "union_tag_invalid":
        path += ".kind"
        found = error["ctx"]["tag"]
        message = f"expected one of {error['ctx']['expected_tags']}, found {found!r}"
    elif error["type"] == "literal_error":
        message = f"{message}; found {error.get('input')!r}"
    return ConfigProblem(path, message)


def _cross_references(raw: dict[str, Any]) -> list[ConfigProblem]:
    """Jobs must name books hosts and sources that exist (checked on the raw data, so
    these problems are reported together with the schema's)."""
    problems = []
    books = raw.get("books") if isinstance(raw.get("books"), dict) else {}
    sources = raw.get("sources") if isinstance(raw.get("sources"), dict) else {}
    jobs = raw.get("jobs") if isinstance(raw.get("jobs"), dict) else {}
    for name, job in jobs.items():
        if not isinstance(job, dict):
            continue
        host = job.get("books")
        if isinstance(host, str) and host not in books:
            known = ", ".join(sorted(books)) or "none defined"
            problems.append(
                ConfigProblem(f"jobs.{name}.books", f"no [books.{host}] (known: {known})")
            )
        for index, source in enumerate(job.get("sources") or []):
            if isinstance(source, str) and source not in sources:
                known = ", ".join(sorted(sources)) or "none defined"
                problems.append(
                    ConfigProblem(
                        f"jobs.{name}.sources.{index}", f"no [sources.{source}] (known: {known})"
                    )
                )
    return problems


def parse_config(text: str, *, file: Path) -> LoadedConfig:
    """Validate config text; raise `ConfigError` listing every problem at once."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, [ConfigProblem("(syntax)", str(exc))]) from None
    problems: list[ConfigProblem] = []
    config = None
    try:
        config = Config.model_validate(raw, context={"base_dir": file.parent.resolve()})
    except ValidationError as exc:
        problems.extend(_describe(error) for error in exc.errors(include_url=False))
    problems.extend(_cross_references(raw))
    if problems or config is None:
        raise ConfigError(file, problems)
    return LoadedConfig(config, file, hashlib.sha256(text.encode()).hexdigest())


def load_config(file: Path) -> LoadedConfig:
    """Read and validate a config file."""
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(file, [ConfigProblem("(file)", f"cannot read: {exc.strerror}")]) from None
    return parse_config(text, file=file)
