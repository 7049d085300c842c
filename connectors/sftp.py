"""The `sftp` file transport: bank files picked up from a bank's SFTP inbox (paramiko).

The server is trusted only through a known_hosts file: an unknown or changed host key
is refused, never learned (a bank's payment files must not come from an impostor).
Every paramiko, socket and SFTP error goes through one table (`_ERROR_TABLE`) onto the
groups of `connectors.errors`: fix the config (host key, credentials, paths, rights)
or retry later (refused, timed out, dropped). Transient failures are retried with
`connectors.errors.retrying`, reconnecting before each new attempt; a download cut
half-way resumes from the bytes already received.

`archive` and `quarantine` rename on the server into their folder, never over an earlier
delivery of the same name, and do nothing when the file has left the inbox already (a
caller that died after the move repeats it); `put` uploads under a hidden temp name and
renames, so the other side never picks up half a file.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import io
import logging
import posixpath
import socket
import stat
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import paramiko

from connectors.errors import (
    AuthError,
    ConnectorError,
    FixConfigError,
    HostKeyError,
    RemotePathError,
    RetryLaterError,
    RetryPolicy,
    retrying,
)
from connectors.protocols import CheckResult

log = logging.getLogger(__name__)
T = TypeVar("T")

# A file's bytes are read in pieces this size: the unit of progress kept across a
# reconnect (paramiko prefetches ahead of it, so the size does not limit speed).
_READ_SIZE = 256 * 1024
DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class SftpTimeouts:
    """Seconds to wait for the TCP connect, the SSH banner, authentication, and any
    one channel operation (open, read, write) before giving up on the connection."""

    connect: float = 15.0
    banner: float = 15.0
    auth: float = 30.0
    channel: float = 60.0


@dataclass(frozen=True, slots=True)
class SftpAccount:
    """Where and who to log in as. Secrets are plain strings here (connectors import only
    `mappings`), revealed by the caller at the last moment and kept out of `repr`."""

    host: str
    port: int
    username: str
    known_hosts: Path
    private_key: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def where(self) -> str:
        """`user@host:port`, safe to show."""
        return f"{self.username}@{self.host}:{self.port}"


def fingerprint(key: paramiko.PKey) -> str:
    """The key's SHA256 fingerprint as `ssh-keygen -l` prints it."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _keyscan(account: SftpAccount) -> str:
    port = "" if account.port == 22 else f"-p {account.port} "
    return f"ssh-keyscan {port}{account.host} >> {account.known_hosts}"


class _RefuseUnknownHost(paramiko.RejectPolicy):
    """paramiko's `RejectPolicy`, with a message that says how to fix it."""

    def __init__(self, account: SftpAccount) -> None:
        self.account = account

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise HostKeyError(
            f"host key of {hostname} ({key.get_name()} {fingerprint(key)}) is not in "
            f"known_hosts file {self.account.known_hosts}: confirm the fingerprint with the "
            f"bank, then add it with `{_keyscan(self.account)}`"
        )


def _changed_host_key(account: SftpAccount, exc: paramiko.BadHostKeyException) -> HostKeyError:
    name = account.host if account.port == 22 else f"[{account.host}]:{account.port}"
    return HostKeyError(
        f"host key of {name} changed: known_hosts file {account.known_hosts} has "
        f"{exc.expected_key.get_name()} {fingerprint(exc.expected_key)}, the server offered "
        f"{exc.key.get_name()} {fingerprint(exc.key)}. This is an attack or a key rotation: "
        f"confirm the new fingerprint with the bank out of band, then replace the entry "
        f"(`ssh-keygen -R '{name}' -f {account.known_hosts}` and `{_keyscan(account)}`)"
    )


# One table from library errors to what to do about them: the first matching type wins,
# so subclasses come before their bases. The exception's own text is appended: paramiko
# and the socket layer never put credentials in it.
_ERROR_TABLE: tuple[tuple[type[BaseException], type[ConnectorError], str], ...] = (
    (paramiko.AuthenticationException, AuthError, "authentication refused (key, password, user?)"),
    (socket.gaierror, FixConfigError, "host name does not resolve"),
    (FileNotFoundError, RemotePathError, "no such remote file or folder"),
    (PermissionError, RemotePathError, "permission denied on the server"),
    (TimeoutError, RetryLaterError, "timed out"),
    (paramiko.ssh_exception.NoValidConnectionsError, RetryLaterError, "cannot connect"),
    (ConnectionError, RetryLaterError, "connection refused or reset"),
    (EOFError, RetryLaterError, "connection closed by the server"),
    (paramiko.SSHException, RetryLaterError, "SSH connection failed or dropped"),
    # "Garbage packet received" and the like: the server's SFTP subsystem talks nonsense
    # (typically a login script printing text); retrying cannot help.
    (paramiko.SFTPError, FixConfigError, "the server's SFTP subsystem misbehaves"),
    # What remains of OSError from SFTP has no errno ("Socket is closed", "Failure"):
    # the connection is gone or the server hiccupped; a fresh connection is the cure.
    (OSError, RetryLaterError, "SFTP operation failed"),
)


def classify(exc: BaseException, where: str) -> ConnectorError:
    """Map a paramiko, socket or SFTP error onto the connector error tree."""
    if isinstance(exc, ConnectorError):
        return exc
    for library_type, group, meaning in _ERROR_TABLE:
        if isinstance(exc, library_type):
            detail = str(exc) or type(exc).__name__
            return group(f"{where}: {meaning} ({detail})")
    raise exc


def _load_private_key(text: str) -> paramiko.PKey:
    for key_type in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return key_type.from_private_key(io.StringIO(text.strip() + "\n"))
        except (paramiko.SSHException, paramiko.UnknownKeyType, ValueError):
            continue
    raise AuthError(
        "`private_key` is not an unencrypted Ed25519, ECDSA or RSA private key "
        "(OpenSSH or PEM format)"
    )


def open_sftp(account: SftpAccount, timeouts: SftpTimeouts = SftpTimeouts()) -> paramiko.SFTPClient:
    """Log in with strict host-key checking and open an SFTP session.

    Only the given known_hosts file is trusted (no system file, no agent, no keys from
    ~/.ssh). Raise `HostKeyError`, `AuthError`, `FixConfigError` or `RetryLaterError`.
    """
    if account.private_key is None and account.password is None:
        raise AuthError(f"{account.where}: give `private_key` or `password`")
    pkey = _load_private_key(account.private_key) if account.private_key else None
    client = paramiko.SSHClient()
    try:
        client.load_host_keys(str(account.known_hosts))
    except OSError as exc:
        raise FixConfigError(
            f"cannot read known_hosts file {account.known_hosts} ({exc.strerror}): create it "
            f"with `{_keyscan(account)}` after confirming the fingerprint with the bank"
        ) from None
    client.set_missing_host_key_policy(_RefuseUnknownHost(account))
    try:
        client.connect(
            account.host,
            port=account.port,
            username=account.username,
            pkey=pkey,
            password=account.password,
            timeout=timeouts.connect,
            banner_timeout=timeouts.banner,
            auth_timeout=timeouts.auth,
            channel_timeout=timeouts.channel,
            allow_agent=False,
            look_for_keys=False,
        )
        sftp = client.open_sftp()
    except paramiko.BadHostKeyException as exc:
        client.close()
        raise _changed_host_key(account, exc) from None
    except Exception as exc:
        client.close()
        raise classify(exc, account.where) from None
    # Without this a server that stops answering mid-transfer hangs a read forever.
    sftp.get_channel().settimeout(timeouts.channel)
    return sftp


def _close(sftp: paramiko.SFTPClient, where: str) -> None:
    try:
        transport = sftp.get_channel().get_transport()
        sftp.close()
        transport.close()
    except Exception:  # a dropped connection may fail to close: nothing is left to free
        log.debug("closing a broken SFTP session of %s", where, exc_info=True)


class SftpTransport:
    """File transport over an SFTP inbox; `connect` opens a fresh, logged-in SFTP client
    (`open_sftp` bound to an account), called again after a dropped connection."""

    def __init__(
        self,
        name: str,
        connect: Callable[[], paramiko.SFTPClient],
        *,
        where: str,
        inbox: str,
        pattern: str = "*",
        processed: str | None = None,
        quarantine: str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.name = name
        self.where = where
        self.inbox = inbox
        self.pattern = pattern
        self.processed = processed or posixpath.join(inbox, "processed")
        self.quarantine_folder = quarantine or posixpath.join(inbox, "quarantine")
        self.retry = retry
        self._connect = connect
        self._sftp: paramiko.SFTPClient | None = None
        self._finalizer: weakref.finalize | None = None

    # -- connection handling ------------------------------------------------------------

    def close(self) -> None:
        """Close the SFTP session and its SSH connection, if open."""
        if self._finalizer is not None:
            self._finalizer()  # runs `_close` once, however often it is called
        self._sftp = self._finalizer = None

    def __enter__(self) -> SftpTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _session(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            sftp = self._connect()
            # A caller that drops the transport without `close()` (the runner, after a
            # run) must not leave an SSH connection open in a long-lived scheduler.
            self._finalizer = weakref.finalize(self, _close, sftp, self.where)
            self._sftp = sftp
        return self._sftp

    def _call(self, what: str, operation: Callable[[paramiko.SFTPClient], T]) -> T:
        """Run one operation with bounded retry, reconnecting after a transient failure."""

        def attempt() -> T:
            sftp = self._session()
            try:
                return operation(sftp)
            except Exception as exc:
                raise classify(exc, f"{self.where} {what}") from exc

        def reconnect(error: RetryLaterError) -> None:
            log.warning("sftp source %s: %s; reconnecting", self.name, error)
            self.close()

        return retrying(self.retry, attempt, before_retry=reconnect)

    # -- paths --------------------------------------------------------------------------

    def _in(self, folder: str, name: str) -> str:
        # Names come from `list()` or from arlink itself; a slash would escape the folder.
        if not name or "/" in name or name in {".", ".."}:
            raise RemotePathError(f"{self.where}: not a plain file name: {name!r}")
        return posixpath.join(folder, name)

    @staticmethod
    def _exists(sftp: paramiko.SFTPClient, path: str) -> bool:
        try:
            sftp.stat(path)
        except FileNotFoundError:
            return False
        return True

    @staticmethod
    def _makedirs(sftp: paramiko.SFTPClient, folder: str) -> None:
        parts = [part for part in folder.split("/") if part]
        path = "/" if folder.startswith("/") else ""
        for part in parts:
            path = posixpath.join(path, part) if path else part
            try:
                if not stat.S_ISDIR(sftp.stat(path).st_mode or 0):
                    raise RemotePathError(f"remote {path} exists and is not a folder")
            except FileNotFoundError:
                sftp.mkdir(path)

    # -- the FileTransport verbs --------------------------------------------------------

    def check(self) -> list[CheckResult]:
        """Log in and look at the inbox: what `arlink check` shows for this source."""
        target = f"source {self.name}"
        try:
            waiting = len(self.list())
        except ConnectorError as exc:
            return [CheckResult(target, False, str(exc))]
        return [
            CheckResult(
                target,
                True,
                f"{self.where}: {waiting} file(s) matching {self.pattern!r} in {self.inbox}",
            )
        ]

    def list(self) -> list[str]:
        """Names of the regular files in the inbox matching the pattern (no hidden ones)."""

        def listing(sftp: paramiko.SFTPClient) -> list[str]:
            return sorted(
                entry.filename
                for entry in sftp.listdir_attr(self.inbox)
                if stat.S_ISREG(entry.st_mode or 0)
                and not entry.filename.startswith(".")
                and fnmatch.fnmatchcase(entry.filename, self.pattern)
            )

        return self._call(f"listing {self.inbox}", listing)

    def fetch(self, name: str) -> bytes:
        """The file's bytes, read fully and checked against its size on the server.

        A dropped connection is retried on a new one, resuming after the bytes already
        received, unless the file changed meanwhile (then it is read again from the start).
        """
        path = self._in(self.inbox, name)
        received = bytearray()
        seen: list[tuple[int | None, int | None]] = []  # (size, mtime) when first read

        def download(sftp: paramiko.SFTPClient) -> bytes:
            attrs = sftp.stat(path)
            identity = (attrs.st_size, attrs.st_mtime)
            if seen and seen[0] != identity:
                received.clear()
                seen.clear()
            if not seen:
                seen.append(identity)
            size = attrs.st_size or 0
            with sftp.open(path, "rb") as remote:
                remote.seek(len(received))
                if size > len(received):
                    remote.prefetch(size)
                while chunk := remote.read(_READ_SIZE):
                    received.extend(chunk)
            if len(received) != size:
                # Still being written by the bank, or truncated: read it whole next time.
                got = len(received)
                received.clear()
                seen.clear()
                raise RetryLaterError(
                    f"{self.where} fetching {name}: read {got} bytes, the server said {size}"
                )
            return bytes(received)

        return self._call(f"fetching {name}", download)

    def archive(self, name: str) -> None:
        """Move a recorded file into the processed folder on the server."""
        self._move(name, self.processed, "archiving")

    def quarantine(self, name: str) -> None:
        """Move a recorded file that must not be processed into the quarantine folder on
        the server."""
        self._move(name, self.quarantine_folder, "quarantining")

    def _move(self, name: str, folder: str, verb: str) -> None:
        source = self._in(self.inbox, name)

        def move(sftp: paramiko.SFTPClient) -> None:
            if not self._exists(sftp, source):
                # Moved already: by an attempt whose connection dropped before the reply,
                # or by a run that died before recording it.
                return
            self._makedirs(sftp, folder)
            target = self._in(folder, name)
            suffix = 1
            while self._exists(sftp, target):  # never overwrite an earlier delivery
                target = self._in(folder, f"{name}.{suffix}")
                suffix += 1
            # Plain SFTP rename refuses an existing target (unlike posix-rename).
            sftp.rename(source, target)

        self._call(f"{verb} {name}", move)

    def put(self, name: str, data: bytes) -> None:
        """Upload into the inbox under a hidden temp name, check its size, then rename."""
        final = self._in(self.inbox, name)

        def upload(sftp: paramiko.SFTPClient) -> None:
            temp = self._in(self.inbox, f".{name}.{uuid.uuid4().hex[:8]}.part")
            try:
                sftp.putfo(io.BytesIO(data), temp, file_size=len(data), confirm=True)
                sftp.posix_rename(temp, final)
            except BaseException:
                try:
                    sftp.remove(temp)
                except Exception:  # the connection may be gone; a stale .part is hidden
                    log.debug("could not remove %s on %s", temp, self.where, exc_info=True)
                raise

        self._call(f"uploading {name}", upload)
