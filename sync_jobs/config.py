"""Configuration: `config.toml` read once at start-up into typed, validated models.

Every problem is reported at once, each with its key path, what was expected and
what was found (never a secret's value). Secrets are `{ env = "VAR" }` or
`{ file = "path" }` tables, never literal strings in the file. Relative paths are
relative to the config file's folder, so a config works from any working directory.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
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
    model_validator,
)

from cash_application.bank_files.lockbox_csv import load_any_layout
from cash_application.policy import MatchPolicy, TiePolicy
from cash_application.remittance_advices.csv_layout import (
    DEFAULT_LAYOUT,
    CsvLayout,
    RemittanceLayoutError,
)
from mappings.odbc import OdbcMapping, OdbcMappingError
from mappings.odoo import OdooMapping, OdooMappingError
from mappings.salesforce import SalesforceMapping
from mappings.soap import SoapMapping
from sync_jobs.edi_cli import load_partner_profile
from sync_jobs.secrets import Secret, SecretSourceError, read_secret

STEP_NAMES = (
    "pull", "fetch", "parse", "match", "write-back",
    "edi-build", "edi-validate", "edi-deliver", "edi-acks",
)  # fmt: skip
StepName = Literal[
    "pull", "fetch", "parse", "match", "write-back",
    "edi-build", "edi-validate", "edi-deliver", "edi-acks",
]  # fmt: skip
# A job that names no steps does cash application; EDI steps are asked for by name.
DEFAULT_STEPS = STEP_NAMES[:5]
X12_VERSIONS = ("004010", "004010VICS", "005010", "005010VICS")
EDIFACT_DIRECTORIES = ("D96A", "D01B")


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


def _lockbox_layout(value: str | None, info: ValidationInfo) -> str | None:
    # validate_default is on: the absent (None) layout means "detect from content".
    return None if value is None else _shipped_or_path(load_any_layout)(value, info)


class _SourceConfig(_Strict):
    """What every bank source has: how its lockbox files are laid out, when the bank's
    layout is not the shipped default (README, "CSV and Excel lockbox files")."""

    lockbox_layout: Annotated[str | None, AfterValidator(_lockbox_layout)] = None


class FolderSourceConfig(_SourceConfig):
    """Bank files dropped into a local folder; processed ones move to `processed`, files
    that do not parse to `quarantine`."""

    kind: Literal["folder"]
    path: ConfigPath
    pattern: str = "*"
    processed: ConfigPath | None = None
    quarantine: ConfigPath | None = None


class SftpSourceConfig(_SourceConfig):
    """Bank files picked up from an SFTP inbox (README, "The `sftp` bank source").

    The server is trusted only through `known_hosts`; folders are paths on the server;
    processed and quarantined files default to `processed` and `quarantine` in the inbox.
    """

    kind: Literal["sftp"]
    host: str
    port: int = Field(default=22, ge=1, le=65535)
    username: str
    known_hosts: ConfigPath
    private_key: SecretValue | None = None
    password: SecretValue | None = None
    inbox: str
    pattern: str = "*"
    processed: str | None = None
    quarantine: str | None = None
    connect_timeout: float = Field(default=15.0, gt=0)
    banner_timeout: float = Field(default=15.0, gt=0)
    auth_timeout: float = Field(default=30.0, gt=0)
    channel_timeout: float = Field(default=60.0, gt=0)
    retry_attempts: int = Field(default=4, ge=1, le=20)
    retry_wait: float = Field(default=1.0, ge=0)

    @model_validator(mode="after")
    def _has_credentials(self) -> SftpSourceConfig:
        if self.private_key is None and self.password is None:
            raise ValueError("give `private_key` or `password` (a secret: env or file)")
        return self


def _check_base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected a base URL such as https://erp.example.com, found {value!r}")
    if parts.username or parts.password:
        raise ValueError("credentials do not belong in `url`: use `username` and `password`")
    return value


def _check_odoo_mapping(value: Path | None) -> Path | None:
    if value is not None:
        try:
            OdooMapping.load(value)
        except OdooMappingError as exc:
            raise ValueError(str(exc)) from None
    return value


def _shipped_or_path(load: Callable[[Any], object]) -> Callable[[str, ValidationInfo], str]:
    """A mapping given as the name of a shipped file (`billing`) or a path to one's own
    copy (relative to the config's folder); loaded once here so every mistake in it is
    reported with the config's other problems."""

    def check(value: str, info: ValidationInfo) -> str:
        if "/" in value or "\\" in value or value.endswith(".toml"):
            value = str(_resolve_path(Path(value), info))
        try:
            load(value)
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return value

    return check


class RemoteBooksConfig(_Strict):
    """What every books host over the network has: timeouts, pages, bounded retries."""

    timeout: float = Field(default=60.0, gt=0)
    page_size: int = Field(default=500, ge=1, le=10000)
    retry_attempts: int = Field(default=4, ge=1, le=20)
    retry_wait: float = Field(default=1.0, ge=0)


class SoapBooksConfig(RemoteBooksConfig):
    """A SOAP ERP through its WSDLs and a mapping file (README, "SOAP ERPs")."""

    kind: Literal["soap"]
    url: Annotated[str, AfterValidator(_check_base_url)]
    mapping: Annotated[str, AfterValidator(_shipped_or_path(SoapMapping.load))] = "business_central"
    username: str = ""
    password: SecretValue | None = None
    token: SecretValue | None = None
    local_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    timeout: float = Field(default=30.0, gt=0)
    operation_timeout: float = Field(default=60.0, gt=0)

    @model_validator(mode="after")
    def _has_one_credential(self) -> SoapBooksConfig:
        if (self.password is None) == (self.token is None):
            raise ValueError("give exactly one of `password` or `token` (a secret: env or file)")
        return self


_PASSWORD_IN_CONNECTION = re.compile(r"(?:^|;)\s*(?:pwd|password)\s*=", re.IGNORECASE)


def _check_connection_string(value: str) -> str:
    if _PASSWORD_IN_CONNECTION.search(value):
        raise ValueError(
            "the password does not belong in `connection_string`: give it as `password` "
            "(a secret: env or file); the value is not shown"
        )
    return value


def _check_odbc_mapping(value: Path | None) -> Path | None:
    if value is not None:
        try:
            OdbcMapping.load(value)
        except OdbcMappingError as exc:
            raise ValueError(str(exc)) from None
    return value


class OdbcBooksConfig(RemoteBooksConfig):
    """An ERP's AR tables in a SQL database through ODBC (README, "The `odbc` books host")."""

    kind: Literal["odbc"]
    connection_string: Annotated[str, AfterValidator(_check_connection_string)]
    password: SecretValue | None = None
    mapping: Annotated[ConfigPath | None, AfterValidator(_check_odbc_mapping)] = None
    connect_timeout: int = Field(default=15, ge=1)
    statement_timeout: float = Field(default=120.0, gt=0)
    page_size: int = Field(default=1000, ge=1, le=100_000)


class OdooBooksConfig(RemoteBooksConfig):
    """An Odoo 16/17/18 database over XML-RPC (README, "The `odoo` books host")."""

    kind: Literal["odoo"]
    url: Annotated[str, AfterValidator(_check_base_url)]
    database: str
    username: str
    password: SecretValue | None = None
    api_key: SecretValue | None = None
    version: Literal[16, 17, 18] = 17
    protocol: Literal["xmlrpc", "jsonrpc"] = "xmlrpc"  # XML-RPC leaves Odoo from 19
    mapping: Annotated[ConfigPath | None, AfterValidator(_check_odoo_mapping)] = None
    exceptions_target: Literal["invoice", "customer"] = "invoice"
    exceptions_user_id: int | None = Field(default=None, ge=1)
    exceptions_partner_id: int | None = Field(default=None, ge=1)
    post_note: bool = False
    payment_journal: str | None = None
    write_off_account: str | None = None
    discount_account: str | None = None

    @model_validator(mode="after")
    def _has_one_credential(self) -> OdooBooksConfig:
        if (self.password is None) == (self.api_key is None):
            raise ValueError("give exactly one of `password` or `api_key` (a secret: env or file)")
        return self

    @property
    def credential(self) -> Secret:
        """The password or the API key, whichever is given (Odoo takes either)."""
        secret = self.password if self.password is not None else self.api_key
        if secret is None:
            raise ValueError("give exactly one of `password` or `api_key`")
        return secret


class SalesforceBooksConfig(RemoteBooksConfig):
    """A Salesforce org through a connected app (README, "The `salesforce` books host")."""

    kind: Literal["salesforce"]
    login_url: Annotated[str, AfterValidator(_check_base_url)]
    client_id: str
    client_secret: SecretValue
    api_version: str = Field(default="62.0", pattern=r"^\d+\.0$")
    mapping: Annotated[str, AfterValidator(_shipped_or_path(SalesforceMapping.load))] = "billing"
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    page_size: int = Field(default=2000, ge=1, le=2000)
    bulk_threshold: int = Field(default=50_000, ge=0)
    api_usage_stop: float = Field(default=0.9, gt=0, le=1)
    ca_file: ConfigPath | None = None
    exceptions_owner_id: str | None = None


BooksConfig = Annotated[
    FilesBooksConfig | OdooBooksConfig | OdbcBooksConfig | SoapBooksConfig | SalesforceBooksConfig,
    Field(discriminator="kind"),
]
SourceConfig = Annotated[FolderSourceConfig | SftpSourceConfig, Field(discriminator="kind")]
_KINDS = {"files", "odoo", "odbc", "soap", "salesforce", "folder", "sftp"}


class JobConfig(_Strict):
    """A named list of steps over one books host and some bank sources."""

    books: str
    sources: list[str] = Field(default_factory=list)
    steps: list[StepName] = Field(default_factory=lambda: list(DEFAULT_STEPS))
    edi_partner: str | None = None  # a [edi.partners.<name>]: whose invoices the EDI steps send
    schedule: Annotated[str | None, AfterValidator(_check_cron)] = None
    timezone: Annotated[str, AfterValidator(_check_timezone)] = "UTC"


class NotifyConfig(_Strict):
    """Who hears about a job that could not do its work."""

    command: list[str] = Field(default_factory=list)
    webhook_url: SecretValue | None = None


def _decimal_string(value: Any) -> Decimal:
    # Money and rates are Decimal strings: a TOML float is already rounded in binary.
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f'expected a decimal string such as "50.00", found {value!r}')
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f'expected a decimal string such as "50.00", found {value!r}') from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"expected a finite amount of zero or more, found {value!r}")
    return number


DecimalString = Annotated[Decimal, PlainValidator(_decimal_string)]


class MatchingConfig(_Strict):
    """How far cash application may go on its own (`cash_application.policy`)."""

    write_off_limit: DecimalString = Decimal("50.00")
    fx_tolerance: DecimalString = Decimal("0.01")
    take_discount: bool = True
    discount_grace_days: int = Field(default=0, ge=0)
    apply_short_pay: bool = True
    tie_policy: Literal["review", "oldest"] = "review"
    error_budget: float = Field(default=0.0005, ge=0, le=1)
    advice_date_window_days: int = Field(default=3, ge=0, le=60)
    # Production outcomes recalibrate an evidence path only on this much evidence.
    calibration_min_outcomes: int = Field(default=20, ge=1)
    calibration_significance: float = Field(default=0.01, gt=0, lt=1)
    # Rates into the payments' currency (`EUR = "1.0842"`): an invoice in a currency named
    # here may be paid in another, within `fx_tolerance`; others need the same currency.
    fx_rates: dict[Annotated[str, Field(pattern=r"^[A-Z]{3}$")], DecimalString] = Field(
        default_factory=dict
    )

    def policy(self) -> MatchPolicy:
        """The matcher's policy for these settings."""
        return MatchPolicy(
            write_off_limit=self.write_off_limit,
            fx_tolerance=self.fx_tolerance,
            take_discount=self.take_discount,
            discount_grace_days=self.discount_grace_days,
            apply_short_pay=self.apply_short_pay,
            tie_policy=TiePolicy(self.tie_policy),
            error_budget=self.error_budget,
            advice_date_window_days=self.advice_date_window_days,
            calibration_min_outcomes=self.calibration_min_outcomes,
            calibration_significance=self.calibration_significance,
        )


def _check_advice_layout(value: Path | None) -> Path | None:
    if value is not None:
        try:
            CsvLayout.load(value)
        except RemittanceLayoutError as exc:
            raise ValueError(str(exc)) from None
    return value


class RemittanceConfig(_Strict):
    """How customers' CSV remittance advices are laid out (README, "Remittance advices")."""

    layout: Annotated[ConfigPath | None, AfterValidator(_check_advice_layout)] = None

    def csv_layout(self) -> CsvLayout:
        """The configured layout, or the shipped default."""
        return CsvLayout.load(self.layout) if self.layout else DEFAULT_LAYOUT


class RetryConfig(_Strict):
    """A bounded retry policy for one step kind (`[retries.pull]`, ...)."""

    attempts: int = Field(ge=1, le=20)
    initial_wait: float = Field(default=10.0, ge=0)
    max_wait: float = Field(default=120.0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> RetryConfig:
        if self.max_wait < self.initial_wait:
            raise ValueError("`max_wait` must be at least `initial_wait`")
        return self


def _check_broker_url(value: str) -> str:
    scheme, _, rest = value.partition("://")
    if scheme not in ("redis", "rediss") or not rest:
        raise ValueError(f"expected a Redis URL like `redis://127.0.0.1:6379/0`, found {value!r}")
    if ":" in rest.split("@", 1)[0] and "@" in rest:
        raise ValueError('the URL carries a password: give it as `password = { env = "VAR" }`')
    return value


class WorkersConfig(_Strict):
    """Scale-out on Celery (`arlink worker`): the Redis broker, which also holds results."""

    broker_url: Annotated[str, AfterValidator(_check_broker_url)]
    password: SecretValue | None = None
    # How long `arlink run` waits for the workers to finish one step.
    step_timeout_seconds: float = Field(default=3600, gt=0)
    # The match step's customer shards: one task each, so up to this many workers match
    # at once. Changing it between a crashed run and its rerun is refused.
    match_shards: int = Field(default=8, ge=1, le=1024)


_PASSWORD_HASH = re.compile(r"scrypt\$\d+\$\d+\$\d+\$[0-9a-f]{32}\$[0-9a-f]{64}")


def _check_password_hash(value: str) -> str:
    if not _PASSWORD_HASH.fullmatch(value):
        raise ValueError(
            "expected a hash from `arlink web hash-password` (scrypt$N$r$p$salt$hash), "
            "never a plain password (the value is not shown)"
        )
    return value


class WebUserConfig(_Strict):
    """One person who may sign in to `arlink web` when it is bound off loopback."""

    password_hash: Annotated[str, AfterValidator(_check_password_hash)]


class WebConfig(_Strict):
    """`arlink web`: who may sign in when it listens beyond loopback, and how."""

    users: dict[str, WebUserConfig] = Field(default_factory=dict)
    # For scripts: `Authorization: Bearer <token>`.
    api_token: SecretValue | None = None
    # Signs session cookies; unset, a fresh random key per process (sign-ins end on restart).
    session_secret: SecretValue | None = None


class EdiPartnerConfig(_Strict):
    """One EDI trading partner (README, "EDI in jobs"): the profile its invoices are checked
    against, the envelope, whose invoices it gets, where they go and where answers come from.

    Delivery and acknowledgments use a configured source (`deliver_to`, `acks_from`: a
    [sources.<name>], folder or SFTP) or a local folder (`deliver_folder`, `acks_folder`).
    """

    profile: Annotated[str, AfterValidator(_shipped_or_path(load_partner_profile))] = "generic"
    standard: Literal["x12", "edifact"] = "x12"
    # X12: the GS08 version (X12_VERSIONS); EDIFACT: the directory (EDIFACT_DIRECTORIES).
    version: str = "004010"
    sender_qualifier: str = Field(default="ZZ", min_length=1, max_length=4)
    sender_id: str = Field(min_length=1, max_length=35)
    receiver_qualifier: str = Field(default="ZZ", min_length=1, max_length=4)
    receiver_id: str = Field(min_length=1, max_length=35)
    usage_indicator: Literal["P", "T"] = "P"
    customers: list[str] = Field(min_length=1)
    deliver_to: str | None = None
    deliver_folder: ConfigPath | None = None
    acks_from: str | None = None
    acks_folder: ConfigPath | None = None
    # Where this partner's numbering starts (a partner moved from another translator).
    first_control_number: int = Field(default=1, ge=1, le=999_999_999)

    @model_validator(mode="after")
    def _consistent(self) -> EdiPartnerConfig:
        versions = X12_VERSIONS if self.standard == "x12" else EDIFACT_DIRECTORIES
        if self.version not in versions:
            raise ValueError(
                f"`version` for {self.standard} must be one of {versions}, found {self.version!r}"
            )
        if (self.deliver_to is None) == (self.deliver_folder is None):
            raise ValueError("give exactly one of `deliver_to` (a source) or `deliver_folder`")
        if self.acks_from is not None and self.acks_folder is not None:
            raise ValueError("give at most one of `acks_from` (a source) or `acks_folder`")
        return self


class EdiConfig(_Strict):
    """`[edi.partners.<name>]`: the trading partners jobs send invoices to."""

    partners: dict[str, EdiPartnerConfig] = Field(default_factory=dict)


class Config(_Strict):
    """The whole `config.toml`."""

    var_dir: ConfigPath = Path("var")
    ledger: LedgerConfig = LedgerConfig()
    books: dict[str, BooksConfig] = Field(default_factory=dict)
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    jobs: dict[str, JobConfig] = Field(default_factory=dict)
    notify: NotifyConfig = NotifyConfig()
    matching: MatchingConfig = MatchingConfig()
    remittance: RemittanceConfig = RemittanceConfig()
    retries: dict[StepName, RetryConfig] = Field(default_factory=dict)
    workers: WorkersConfig | None = None
    web: WebConfig = WebConfig()
    edi: EdiConfig = EdiConfig()


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
    problems.extend(_edi_references(raw, sources))
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


def _edi_references(raw: dict[str, Any], sources: dict[str, Any]) -> list[ConfigProblem]:
    """EDI partners must name sources that exist; jobs must name partners that exist."""
    edi = raw.get("edi") if isinstance(raw.get("edi"), dict) else {}
    partners = edi.get("partners") if isinstance(edi.get("partners"), dict) else {}
    problems = []
    for name, partner in partners.items():
        for key in ("deliver_to", "acks_from"):
            source = partner.get(key) if isinstance(partner, dict) else None
            if isinstance(source, str) and source not in sources:
                known = ", ".join(sorted(sources)) or "none defined"
                problems.append(
                    ConfigProblem(
                        f"edi.partners.{name}.{key}", f"no [sources.{source}] (known: {known})"
                    )
                )
    jobs = raw.get("jobs") if isinstance(raw.get("jobs"), dict) else {}
    for name, job in jobs.items():
        partner = job.get("edi_partner") if isinstance(job, dict) else None
        steps = job.get("steps") if isinstance(job, dict) else None
        edi_steps = (
            [s for s in steps if str(s).startswith("edi-")] if isinstance(steps, list) else []
        )
        if edi_steps and partner is None:
            problems.append(
                ConfigProblem(
                    f"jobs.{name}.edi_partner",
                    f"steps {edi_steps} need the partner whose invoices they send",
                )
            )
        if isinstance(partner, str) and partner not in partners:
            known = ", ".join(sorted(partners)) or "none defined"
            problems.append(
                ConfigProblem(
                    f"jobs.{name}.edi_partner", f"no [edi.partners.{partner}] (known: {known})"
                )
            )
    return problems


def _workers_ledger(raw: dict[str, Any]) -> list[ConfigProblem]:
    """Several workers need a ledger that locks rows across processes and hosts: PostgreSQL.
    A SQLite file (the default) serialises one machine's writers only."""
    if not isinstance(raw.get("workers"), dict):
        return []
    ledger = raw.get("ledger") if isinstance(raw.get("ledger"), dict) else {}
    url = ledger.get("url")
    backend = url.split(":", 1)[0].split("+", 1)[0] if isinstance(url, str) else "sqlite"
    if backend == "postgresql":
        return []
    found = f"`{backend}`" if isinstance(url, str) else "none (the default SQLite file)"
    return [
        ConfigProblem(
            "workers",
            'Celery workers need a PostgreSQL ledger (`ledger.url = "postgresql+psycopg://..."`);'
            f" SQLite is for one process only; found ledger backend {found}",
        )
    ]


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
    problems.extend(_workers_ledger(raw))
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
