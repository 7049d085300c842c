"""The `sftp` transport against a real OpenSSH sshd (tests/servers/sshd.py): strict host
keys, key auth, the FileTransport verbs, a connection cut mid-download, and `arlink run`
end to end with an SFTP bank source."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path

import paramiko
import pytest
import sqlalchemy as sa
from servers.sshd import CuttingProxy, SshdServer
from typer.testing import CliRunner
from workspace import EXAMPLES, SFTP_CONFIG

from connectors.errors import (
    AuthError,
    ConnectorError,
    FixConfigError,
    HostKeyError,
    RemotePathError,
    RetriesExhaustedError,
    RetryLaterError,
    RetryPolicy,
)
from connectors.sftp import SftpAccount, SftpTimeouts, SftpTransport, classify, open_sftp
from sync_jobs.cli import app
from sync_jobs.config import ConfigError, load_config, parse_config
from sync_jobs.ledger import open_ledger
from sync_jobs.wiring import ledger_url

FAST = RetryPolicy(attempts=3, initial_wait=0.01, max_wait=0.05)
QUICK = SftpTimeouts(connect=5, banner=5, auth=5, channel=10)


def account(
    server: SshdServer, known_hosts: Path, *, port: int | None = None, key: Path | None = None
) -> SftpAccount:
    """The test user's login, through `port` (a proxy) when given."""
    return SftpAccount(
        host=server.host,
        port=port or server.port,
        username=server.user,
        known_hosts=known_hosts,
        private_key=(key or server.client_key).read_text(),
    )


def transport(
    server: SshdServer,
    tmp_path: Path,
    inbox: str,
    *,
    pattern: str = "*",
    port: int | None = None,
    timeouts: SftpTimeouts = QUICK,
) -> SftpTransport:
    """A transport on `inbox` that trusts the server, with fast retries."""
    login = account(server, server.known_hosts(tmp_path / "known_hosts", port=port), port=port)
    return SftpTransport(
        "bank",
        lambda: open_sftp(login, timeouts),
        where=login.where,
        inbox=inbox,
        pattern=pattern,
        retry=FAST,
    )


def test_list_fetch_archive_put_round_trip(sshd_server: SshdServer, tmp_path: Path) -> None:
    inbox, local = sshd_server.new_inbox()
    with transport(sshd_server, tmp_path, inbox, pattern="*.bai2") as bank:
        bank.put("a.bai2", b"first delivery\n")
        bank.put("b.bai2", b"second delivery\n")
        (local / "notes.txt").write_bytes(b"not matched by the pattern")
        assert bank.list() == ["a.bai2", "b.bai2"]
        assert bank.fetch("a.bai2") == b"first delivery\n"
        bank.archive("a.bai2")
        # The same name delivered again is archived beside the first, never over it.
        bank.put("a.bai2", b"redelivered\n")
        bank.archive("a.bai2")
        bank.quarantine("b.bai2")
        assert bank.list() == []
        # Repeated by a run that died after the move: the file has left, nothing happens.
        bank.quarantine("b.bai2")
        bank.archive("a.bai2")
        assert bank.check()[0].ok
    assert (local / "processed" / "a.bai2").read_bytes() == b"first delivery\n"
    assert (local / "processed" / "a.bai2.1").read_bytes() == b"redelivered\n"
    assert sorted(p.name for p in (local / "processed").iterdir()) == ["a.bai2", "a.bai2.1"]
    assert [p.name for p in (local / "quarantine").iterdir()] == ["b.bai2"]
    assert (local / "quarantine" / "b.bai2").read_bytes() == b"second delivery\n"
    assert not [p for p in local.iterdir() if p.name.endswith(".part")]


def test_unknown_host_key_is_refused(sshd_server: SshdServer, tmp_path: Path) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("")
    with pytest.raises(HostKeyError) as refused:
        open_sftp(account(sshd_server, known_hosts), QUICK)
    message = str(refused.value)
    assert f"[127.0.0.1]:{sshd_server.port}" in message
    assert str(known_hosts) in message
    assert f"ssh-keyscan -p {sshd_server.port} 127.0.0.1 >> {known_hosts}" in message
    assert isinstance(refused.value, FixConfigError)
    assert known_hosts.read_text() == ""  # nothing learned


def test_changed_host_key_is_refused(sshd_server: SshdServer, tmp_path: Path) -> None:
    known_hosts = sshd_server.known_hosts(
        tmp_path / "known_hosts", key=sshd_server.other_host_key_line
    )
    with pytest.raises(HostKeyError) as refused:
        open_sftp(account(sshd_server, known_hosts), QUICK)
    message = str(refused.value)
    assert "changed" in message
    assert f"ssh-keygen -R '[127.0.0.1]:{sshd_server.port}'" in message


def test_wrong_key_is_a_config_error_and_not_retried(
    sshd_server: SshdServer, tmp_path: Path
) -> None:
    known_hosts = sshd_server.known_hosts(tmp_path / "known_hosts")
    login = account(sshd_server, known_hosts, key=sshd_server.stranger_key)
    attempts: list[int] = []

    def connect() -> paramiko.SFTPClient:
        attempts.append(1)
        return open_sftp(login, QUICK)

    bank = SftpTransport("bank", connect, where=login.where, inbox="/", retry=FAST)
    with pytest.raises(AuthError) as refused:
        bank.list()
    assert isinstance(refused.value, FixConfigError)
    assert len(attempts) == 1
    # The key never reaches a message or a repr.
    assert "PRIVATE KEY" not in str(refused.value)
    assert "PRIVATE KEY" not in repr(login)


def test_config_needs_a_credential_and_takes_secrets_only_from_env_or_file(
    tmp_path: Path,
) -> None:
    source = CONFIG.split("[sources.bank]")[1].split("[jobs.daily]")[0]
    text = source.format(port=22, user="ar", key="key", inbox="/out")
    without_key = "\n".join(line for line in text.splitlines() if "private_key" not in line)
    with pytest.raises(ConfigError) as invalid:
        parse_config(
            f'[sources.bank]{without_key}\npassword = "hunter2"\n', file=tmp_path / "c.toml"
        )
    problems = [str(problem) for problem in invalid.value.problems]
    assert any(p.startswith("sources.bank.password: a secret must come from") for p in problems)
    assert "hunter2" not in str(invalid.value)
    with pytest.raises(ConfigError) as invalid:
        parse_config(f"[sources.bank]{without_key}", file=tmp_path / "c.toml")
    assert "give `private_key` or `password`" in str(invalid.value)


def test_missing_inbox_is_a_config_error(sshd_server: SshdServer, tmp_path: Path) -> None:
    with transport(sshd_server, tmp_path, "/no-such-inbox") as bank:
        with pytest.raises(RemotePathError):
            bank.list()
        [result] = bank.check()
    assert not result.ok
    assert "/no-such-inbox" in result.detail


def test_no_right_to_the_processed_folder_is_a_config_error(
    sshd_server: SshdServer, tmp_path: Path
) -> None:
    inbox, local = sshd_server.new_inbox()
    (local / "a.bai2").write_bytes(b"statement\n")
    with transport(sshd_server, tmp_path, inbox) as bank:
        bank.processed = "/processed"  # the chroot's root belongs to root
        with pytest.raises(RemotePathError, match="permission denied"):
            bank.archive("a.bai2")
    assert (local / "a.bai2").exists()


@pytest.mark.parametrize(
    ("library_error", "group"),
    [
        (paramiko.AuthenticationException("Authentication failed."), AuthError),
        (paramiko.BadAuthenticationType("Bad authentication type", ["publickey"]), AuthError),
        (socket.gaierror(-2, "Name or service not known"), FixConfigError),
        (paramiko.SFTPError("Garbage packet received"), FixConfigError),
        (OSError(13, "Permission denied"), RemotePathError),
        (TimeoutError(), RetryLaterError),
        (ConnectionResetError(104, "Connection reset by peer"), RetryLaterError),
        (EOFError(), RetryLaterError),
        (paramiko.SSHException("Server connection dropped: "), RetryLaterError),
        (OSError("Socket is closed"), RetryLaterError),
    ],
)
def test_error_table(library_error: BaseException, group: type[ConnectorError]) -> None:
    mapped = classify(library_error, "ar@bank:22")
    assert type(mapped) is group
    assert str(mapped).startswith("ar@bank:22: ")


def test_download_cut_midway_resumes_on_a_new_connection(
    sshd_server: SshdServer, tmp_path: Path
) -> None:
    inbox, local = sshd_server.new_inbox()
    payload = os.urandom(16 * 1024 * 1024)
    (local / "big.bai2").write_bytes(payload)
    # The first connection is cut after 12 MiB have reached the client; later ones are not.
    # What the client had received but not yet read (socket buffers: a few MiB on loopback)
    # is lost with the connection, so the cut comes late enough that, however slowly the
    # client ran, some of the file was written before it and the resume has an offset.
    proxy = CuttingProxy(sshd_server.port, [12 * 1024 * 1024, None])
    try:
        with transport(sshd_server, tmp_path, inbox, port=proxy.port) as bank:
            data = bank.fetch("big.bai2")
    finally:
        proxy.close()
    assert hashlib.sha256(data).digest() == hashlib.sha256(payload).digest()
    first, second = proxy.connections
    assert first.to_client >= 12 * 1024 * 1024
    # Resumed, not restarted: the second connection carried less than the whole file.
    assert second.to_client < len(payload)


def test_retries_are_capped(sshd_server: SshdServer, tmp_path: Path) -> None:
    proxy = CuttingProxy(sshd_server.port, [0])  # every connection dropped at once
    try:
        with (
            transport(sshd_server, tmp_path, "/", port=proxy.port) as bank,
            pytest.raises(RetriesExhaustedError, match="gave up after 3 attempt"),
        ):
            bank.list()
    finally:
        proxy.close()
    assert len(proxy.connections) == FAST.attempts


def test_a_server_that_sends_no_banner_times_out(sshd_server: SshdServer, tmp_path: Path) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts TCP, never speaks SSH
    port = silent.getsockname()[1]
    login = account(sshd_server, sshd_server.known_hosts(tmp_path / "kh", port=port), port=port)
    started = time.monotonic()
    try:
        with pytest.raises(RetryLaterError, match="banner"):
            open_sftp(login, SftpTimeouts(connect=5, banner=0.5, auth=5, channel=5))
    finally:
        silent.close()
    assert time.monotonic() - started < 5


def test_a_server_that_stops_answering_is_left_for_a_new_connection(
    sshd_server: SshdServer, tmp_path: Path
) -> None:
    inbox, local = sshd_server.new_inbox()
    (local / "a.bai2").write_bytes(b"statement\n")
    impatient = SftpTimeouts(connect=5, banner=5, auth=5, channel=1)
    with transport(sshd_server, tmp_path, inbox, timeouts=impatient) as bank:
        assert bank.list() == ["a.bai2"]
        hung = sshd_server.session_pids()
        for pid in hung:  # the processes serving this connection freeze
            os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            assert bank.fetch("a.bai2") == b"statement\n"
            assert 1 <= time.monotonic() - started < 10  # one channel timeout, then a reconnect
        finally:
            for pid in hung:  # a frozen process still takes SIGKILL
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


# -- `arlink run` end to end with an sftp source ---------------------------------------

# The shared SFTP job (tests/workspace.py), with a second, quick attempt per SFTP call.
CONFIG = SFTP_CONFIG.replace("retry_attempts = 1", "retry_attempts = 2\nretry_wait = 0.01")


def workspace(server: SshdServer, tmp_path: Path, *, port: int | None = None) -> tuple[Path, Path]:
    """A demo workspace whose bank files wait in a fresh SFTP inbox."""
    inbox, local = server.new_inbox()
    shutil.copytree(EXAMPLES / "books", tmp_path / "books")
    for demo in sorted((EXAMPLES / "bank").glob("*.bai2")):
        shutil.copy(demo, local / demo.name)
    server.known_hosts(tmp_path / "known_hosts", port=port)
    (tmp_path / "config.toml").write_text(
        CONFIG.format(
            port=port or server.port, user=server.user, key=server.client_key, inbox=inbox
        )
    )
    return tmp_path, local


def arlink(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["--config", str(root / "config.toml"), *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def run_json(root: Path) -> dict:
    code, stdout, stderr = arlink(root, "run", "daily", "--json")
    assert code == 0, stderr
    return json.loads(stdout)


def audit_events(root: Path) -> list[str]:
    engine = open_ledger(ledger_url(load_config(root / "config.toml").config))
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.text("SELECT event FROM audit_log")).scalars())
    finally:
        engine.dispose()


def at_source(root: Path) -> dict[str, str]:
    """Where the ledger's audit log says each parsed or quarantined file went at its source."""
    engine = open_ledger(ledger_url(load_config(root / "config.toml").config))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT payload FROM audit_log "
                    "WHERE event IN ('file_parsed', 'file_quarantined')"
                )
            ).scalars()
            payloads = [row if isinstance(row, dict) else json.loads(row) for row in rows]
    finally:
        engine.dispose()
    return {payload["name"]: payload["at_source"] for payload in payloads}


def test_run_quarantines_a_bad_file_and_applies_the_rest(
    sshd_server: SshdServer, tmp_path: Path
) -> None:
    root, local = workspace(sshd_server, tmp_path)
    (local / "garbage.bai2").write_bytes(b"01,SENDER,RECEIVER\nthis is not BAI2\n")
    code, stdout, stderr = arlink(root, "run", "daily", "--dry-run", "--json")
    assert code == 0, stderr
    assert json.loads(stdout)["files_quarantined"] == 1
    assert len(list(local.glob("*.bai2"))) == 3  # a dry run reads, and leaves the inbox be
    summary = run_json(root)
    assert summary["files_read"] == 3
    assert summary["files_quarantined"] == 1
    assert summary["payments"] > 0
    assert summary["applied"] > 0
    [quarantined] = (root / "var" / "quarantine").iterdir()
    assert quarantined.name.endswith("garbage.bai2")
    # Every file left the inbox once parsed: the good ones for the processed folder, the
    # bad one for the quarantine folder at the bank too, as the ledger records.
    assert not list(local.glob("*.bai2"))
    assert sorted(p.name for p in (local / "processed").iterdir()) == sorted(
        p.name for p in (EXAMPLES / "bank").glob("*.bai2")
    )
    assert [p.name for p in (local / "quarantine").iterdir()] == ["garbage.bai2"]
    assert at_source(root) == {
        **{p.name: "processed" for p in (EXAMPLES / "bank").glob("*.bai2")},
        "garbage.bai2": "quarantine",
    }
    code, stdout, _ = arlink(root, "check")
    assert code == 0, stdout
    # The runner drops its sources without closing them: no SSH session may linger.
    deadline = time.monotonic() + 5
    while sshd_server.session_pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sshd_server.session_pids() == []


def test_same_file_delivered_twice_is_archived_not_ingested_again(
    sshd_server: SshdServer, tmp_path: Path
) -> None:
    root, local = workspace(sshd_server, tmp_path)
    first = run_json(root)
    assert first["files_read"] == 2
    applied = (root / "books" / "applications.csv").read_text()
    shutil.copy(sorted((local / "processed").iterdir())[0], local / "redelivered.bai2")
    again = run_json(root)
    assert again["files_read"] == 0
    assert again["payments"] == 0
    assert (root / "books" / "applications.csv").read_text() == applied
    assert (local / "processed" / "redelivered.bai2").exists()
    assert "file_duplicate" in audit_events(root)


def test_retry_cap_fails_the_step_and_records_the_run(
    sshd_server: SshdServer, tmp_path: Path
) -> None:
    proxy = CuttingProxy(sshd_server.port, [0])  # the bank's server drops every connection
    try:
        root, local = workspace(sshd_server, tmp_path, port=proxy.port)
        code, _, stderr = arlink(root, "run", "daily")
    finally:
        proxy.close()
    assert code == 1
    assert "gave up after 2 attempt(s)" in stderr
    assert len(proxy.connections) == 2
    assert len(list(local.glob("*.bai2"))) == 2  # nothing archived
    code, stdout, _ = arlink(root, "runs", "--json")
    assert code == 0
    [run] = json.loads(stdout)
    assert run["status"] == "failed"
    assert "gave up after 2 attempt(s)" in run["error"]
