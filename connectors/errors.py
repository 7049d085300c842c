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
bounded, with exponential backoff (STYLE.md 12).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
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
    """The host is unreachable, slow or dropped the connection: safe to try again."""


class RetriesExhaustedError(RetryLaterError):
    """Bounded retries ran out; the last transient failure is the cause."""

    def __init__(self, attempts: int, last: RetryLaterError) -> None:
        self.attempts = attempts
        self.last = last
        super().__init__(f"gave up after {attempts} attempt(s): {last}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried."""

    attempts: int = 4
    initial_wait: float = 1.0
    max_wait: float = 30.0


def retrying(
    policy: RetryPolicy,
    operation: Callable[[], T],
    *,
    before_retry: Callable[[RetryLaterError], None] = lambda error: None,
) -> T:
    """Run `operation`, retrying `RetryLaterError` up to `policy.attempts` times in all;
    `before_retry` runs before each new attempt (e.g. to reconnect). Raise
    `RetriesExhaustedError` when the cap is reached; any other error passes through."""

    def _before_sleep(state: RetryCallState) -> None:
        if state.outcome is not None:
            error = state.outcome.exception()
            if isinstance(error, RetryLaterError):
                before_retry(error)

    retryer = Retrying(
        retry=retry_if_exception_type(RetryLaterError),
        stop=stop_after_attempt(policy.attempts),
        wait=wait_exponential(multiplier=policy.initial_wait, max=policy.max_wait),
        before_sleep=_before_sleep,
        reraise=True,
    )
    try:
        return retryer(operation)
    except RetriesExhaustedError:
        raise
    except RetryLaterError as exc:
        raise RetriesExhaustedError(policy.attempts, exc) from exc
    finally:
        # tenacity keeps its pending actions (bound methods of the retryer) after the call:
        # a reference cycle that would hold `before_retry`, and the connector it closes
        # over, until the garbage collector runs. Cleared, both are freed at once.
        retryer.iter_state.reset()
