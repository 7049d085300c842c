"""Connector errors, grouped by what the caller should do about them (STYLE.md 11).

Each connector maps its library's exceptions through one table onto this tree, so
sync_jobs decides on the group, never on paramiko's (or zeep's, or pyodbc's) types:

    ConnectorError                 something outside arlink did not work
    ├── FixConfigError             retrying will not help: an admin must change something
    │   ├── HostKeyError           server key unknown or changed (known_hosts)
    │   ├── AuthError              credentials refused
    │   └── RemotePathError        a folder or file missing, or no right to it
    └── RetryLaterError            the host is down, slow or dropped us: safe to retry
        └── RetriesExhaustedError  the bounded retries ran out; the step fails, the next run resumes

Messages are built from safe facts only (host, port, user, folder, file name):
never a password, a key, or a URL with credentials in it (STYLE.md 3).

Retry is policy in one place: `retrying(policy)` retries `RetryLaterError` only,
bounded, with exponential backoff (STYLE.md 12). A server's hint (HTTP `Retry-After`,
as Odoo's proxy, Salesforce or a bank gateway send with 429/503) travels on the error as
`retry_after` seconds, or on the transport error it was translated from; the wait before
the next attempt is then max(backoff, hint), capped at the policy's `max_wait`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
)

T = TypeVar("T")


class ConnectorError(Exception):
    """Something outside arlink did not work; the message is safe to log."""


class FixConfigError(ConnectorError):
    """Retrying will not help: the config, a key or the server's rights must change."""


class HostKeyError(FixConfigError):
    """The server's host key is not in known_hosts, or differs from the one there."""


class AuthError(FixConfigError):
    """The server refused the credentials."""


class RemotePathError(FixConfigError):
    """A remote folder or file is missing, or the user lacks the right to it."""


class RetryLaterError(ConnectorError):
    """The host is unreachable, slow or dropped the connection: safe to try again.

    `retry_after` is the server's hint, in seconds, of when to try again (None: no hint).
    """

    def __init__(self, *args: object, retry_after: float | None = None) -> None:
        super().__init__(*args)
        self.retry_after = retry_after


class RetriesExhaustedError(RetryLaterError):
    """Bounded retries ran out; the last transient failure is the cause."""

    def __init__(self, attempts: int, last: RetryLaterError) -> None:
        self.attempts = attempts
        self.last = last
        super().__init__(f"gave up after {attempts} attempt(s): {last}", retry_after=None)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried."""

    attempts: int = 4
    initial_wait: float = 1.0
    max_wait: float = 30.0

    def __post_init__(self) -> None:
        # A malformed policy is refused, never quietly replaced by the defaults.
        if self.attempts < 1:
            raise ValueError(f"`attempts` must be at least 1, found {self.attempts}")
        if self.initial_wait < 0 or self.max_wait < 0:
            raise ValueError(
                f"`initial_wait` and `max_wait` must be >= 0 seconds, found "
                f"{self.initial_wait} and {self.max_wait}"
            )


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """An HTTP `Retry-After` value in seconds: delta-seconds, or an HTTP-date counted from
    `now` (default: the clock). None when absent or unreadable: a malformed hint is no hint,
    and the policy's own backoff applies."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _header(headers: object, name: str) -> str | None:
    # Header names are case-insensitive; a plain dict (xmlrpc's ProtocolError) keeps the
    # server's spelling, so it is searched by lowered name.
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == name:
                return str(value)
    return None


def server_hint(error: BaseException) -> float | None:
    """The seconds a server asked to wait before the next attempt, if it said.

    Found on the error itself (`retry_after`), on the last failure of an exhausted retry,
    or on an error it was translated from (`__cause__` / `__context__`) that carries HTTP
    headers with `Retry-After` (xmlrpc's `ProtocolError.headers`, an HTTP library's
    `response.headers`); the first found wins."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        hint = getattr(current, "retry_after", None)
        if isinstance(hint, int | float) and not isinstance(hint, bool):
            return float(hint)
        for carrier in (current, getattr(current, "response", None)):
            header = _header(getattr(carrier, "headers", None), "retry-after")
            if header is not None and (seconds := retry_after_seconds(header)) is not None:
                return seconds
        pending += [getattr(current, "last", None), current.__cause__, current.__context__]
    return None


def wait_with_hint(policy: RetryPolicy) -> Callable[[RetryCallState], float]:
    """Tenacity wait: the policy's exponential backoff, or the server's hint when longer,
    never more than `policy.max_wait` (a hint of an hour must not stall a run for one)."""
    backoff = wait_exponential(multiplier=policy.initial_wait, max=policy.max_wait)

    def wait(state: RetryCallState) -> float:
        seconds = backoff(state)
        error = state.outcome.exception() if state.outcome is not None else None
        hint = server_hint(error) if error is not None else None
        if hint is not None:
            seconds = max(seconds, hint)
        return min(seconds, policy.max_wait)

    return wait


@dataclass(frozen=True, slots=True)
class RetryAttempt:
    """One failed attempt that will be retried: its number (from 1), the transient error,
    the seconds waited before the next one, and the server's hint if it gave one."""

    attempt: int
    error: RetryLaterError
    wait: float
    hint: float | None


def retrying(
    policy: RetryPolicy,
    operation: Callable[[], T],
    *,
    before_retry: Callable[[RetryLaterError], None] = lambda error: None,
    on_retry: Callable[[RetryAttempt], None] = lambda attempt: None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `operation`, retrying `RetryLaterError` up to `policy.attempts` times in all;
    `before_retry` runs before each new attempt (e.g. to reconnect), `on_retry` is told of
    each failed attempt and the wait chosen (to record it), `sleep` waits. Raise
    `RetriesExhaustedError` when the cap is reached; any other error passes through."""

    def _before_sleep(state: RetryCallState) -> None:
        if state.outcome is not None:
            error = state.outcome.exception()
            if isinstance(error, RetryLaterError):
                wait = state.next_action.sleep if state.next_action is not None else 0.0
                on_retry(RetryAttempt(state.attempt_number, error, wait, server_hint(error)))
                before_retry(error)

    retryer = Retrying(
        retry=retry_if_exception_type(RetryLaterError),
        stop=stop_after_attempt(policy.attempts),
        wait=wait_with_hint(policy),
        before_sleep=_before_sleep,
        sleep=sleep,
        reraise=True,
    )
    try:
        return retryer(operation)
    except RetriesExhaustedError as exc:
        if policy.attempts == 1:
            raise  # nothing was retried at this level: the inner count stands
        # Retried around calls that retry themselves: the cap reached is this level's.
        raise RetriesExhaustedError(policy.attempts, exc.last) from exc
    except RetryLaterError as exc:
        raise RetriesExhaustedError(policy.attempts, exc) from exc
    finally:
        # tenacity keeps its pending actions (bound methods of the retryer) after the call:
        # a reference cycle that would hold `before_retry`, and the connector it closes
        # over, until the garbage collector runs. Cleared, both are freed at once.
        retryer.iter_state.reset()
