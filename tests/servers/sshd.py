"""A throwaway OpenSSH sshd serving SFTP on a free loopback port, and a TCP proxy that
cuts connections (an honest network fault between a real client and a real server).

The server is what a bank runs: key-only auth, `internal-sftp` forced, the user jailed
in a chroot. sshd's rules shape the layout: it must run as root, by absolute path; the
chroot folder and every folder above it must be root-owned and not group- or
world-writable (so not under /tmp), with a user-owned inbox inside; with
`StrictModes yes` the authorized_keys file and its folders must not be writable by
others either. `useradd` leaves the account locked ("!"), which sshd refuses without
PAM, so the fixture unlocks it with `usermod -p '*'` (no password can match `*`).

`make test` installs openssh-server (scripts/install-system-deps.sh); a machine without
it, or a run without root, fails these tests with what to do, rather than skipping them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from servers.ports import free_port

SSHD = Path("/usr/sbin/sshd")


def _root_only(path: Path) -> bool:
    """True when `path` and every folder above it are root-owned and not writable by
    group or others: what sshd demands of a chroot's ancestors."""
    for folder in [path, *path.parents]:
        info = folder.stat()
        if info.st_uid != 0 or info.st_mode & 0o022:
            return False
    return True


def _run(*argv: str) -> str:
    try:
        done = subprocess.run(argv, check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"`{' '.join(argv)}` failed: {exc.stderr.strip()}")
    return done.stdout


def _keygen(path: Path, comment: str) -> str:
    """A new Ed25519 key pair without passphrase; returns the public key line."""
    _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path))
    return path.with_suffix(".pub").read_text().strip()


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (sshd's per-connection processes start new sessions,
    so a process group does not catch them)."""
    children: dict[int, list[int]] = {}
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The command name is in parentheses and may hold spaces: split after it.
            fields = stat_file.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat_file.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _sessions_of(user: str) -> list[int]:
    """Processes serving `user`'s connections, found by their title ("sshd: USER@notty"):
    a session whose parent was killed by a test is no longer below the listener. The
    user name is unique to this run, so nothing else matches."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            if cmdline.read_bytes().startswith(f"sshd: {user}".encode()):
                found.append(int(cmdline.parent.name))
    return found


@dataclass
class SshdServer:
    """A running sshd: where it listens, its user and keys, and its chroot on disk."""

    port: int
    user: str
    base: Path
    host_key_line: str  # "ssh-ed25519 AAAA..." of the server
    other_host_key_line: str  # a key the server does not have (for "changed key" tests)
    client_key: Path  # authorized
    stranger_key: Path  # not authorized
    process: subprocess.Popen[bytes] = field(repr=False)
    host: str = "127.0.0.1"

    @property
    def chroot(self) -> Path:
        return self.base / "chroot"

    def known_hosts(self, path: Path, *, port: int | None = None, key: str | None = None) -> Path:
        """Write a known_hosts file trusting this server (or `key`) at `port`."""
        path.write_text(f"[{self.host}]:{port or self.port} {key or self.host_key_line}\n")
        return path

    def new_inbox(self) -> tuple[str, Path]:
        """A fresh folder the SFTP user owns: its path as the server shows it (inside the
        chroot) and on this machine's disk."""
        name = f"inbox-{uuid.uuid4().hex[:8]}"
        local = self.chroot / name
        local.mkdir(mode=0o755)
        shutil.chown(local, self.user, self.user)
        return f"/{name}", local

    def session_pids(self) -> list[int]:
        """The processes serving connected clients right now."""
        return _descendants(self.process.pid)


def _config(base: Path, port: int, user: str) -> str:
    return f"""\
Port {port}
ListenAddress 127.0.0.1
HostKey {base}/etc/ssh_host_ed25519_key
PidFile none
AuthorizedKeysFile {base}/etc/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
UsePAM no
StrictModes yes
AllowUsers {user}
LogLevel VERBOSE
Subsystem sftp internal-sftp
Match User {user}
    ChrootDirectory {base}/chroot
    ForceCommand internal-sftp
    AllowTcpForwarding no
    X11Forwarding no
    PermitTTY no
"""


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"sshd exited with {process.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    pytest.fail(f"sshd did not listen on port {port} within 10 s: {log.read_text()[-2000:]}")


def start_sshd() -> Iterator[SshdServer]:
    """Create a user and a chroot, start sshd; yield it; stop it, remove both."""
    if not SSHD.exists() or shutil.which("ssh-keygen") is None:
        pytest.fail("OpenSSH server not found: run `make test` as root or install openssh-server")
    if os.geteuid() != 0:
        pytest.fail("the SFTP tests start sshd with a chroot and a test user: run them as root")
    parent = next((p for p in (Path("/run"), Path("/var/lib")) if _root_only(p)), None)
    if parent is None:
        pytest.fail("no root-only folder (/run, /var/lib) to hold the sshd chroot")
    # sshd's privilege-separation folder; the Debian package creates it only at boot.
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="arlink-sshd-", dir=parent))
    base.chmod(0o755)
    user = f"arlsftp{uuid.uuid4().hex[:8]}"  # per run: parallel sessions don't collide
    process: subprocess.Popen[bytes] | None = None
    try:
        _run("useradd", "--no-create-home", "--home-dir", "/", "--shell", "/usr/sbin/nologin", user)
        _run("usermod", "-p", "*", user)
        etc, keys = base / "etc", base / "keys"
        etc.mkdir(mode=0o755)
        keys.mkdir(mode=0o700)
        (base / "chroot").mkdir(mode=0o755)
        host_key_line = _keygen(etc / "ssh_host_ed25519_key", "arlink-test-host")
        other_host_key_line = _keygen(keys / "other_host_key", "arlink-test-other-host")
        client_public = _keygen(keys / "client_key", "arlink-test-client")
        _keygen(keys / "stranger_key", "arlink-test-stranger")
        authorized = etc / "authorized_keys"
        authorized.write_text(client_public + "\n")
        authorized.chmod(0o644)
        config = etc / "sshd_config"
        port = free_port()
        config.write_text(_config(base, port, user))
        _run(str(SSHD), "-t", "-f", str(config))
        log = base / "sshd.log"
        with log.open("wb") as stderr:
            process = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        _wait_for_port(port, process, log)
        yield SshdServer(
            port=port,
            user=user,
            base=base,
            host_key_line=host_key_line.rsplit(" ", 1)[0],
            other_host_key_line=other_host_key_line.rsplit(" ", 1)[0],
            client_key=keys / "client_key",
            stranger_key=keys / "stranger_key",
            process=process,
        )
    finally:
        if process is not None:
            for pid in {*_descendants(process.pid), *_sessions_of(user)}:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            process.terminate()
            process.wait(timeout=10)
        subprocess.run(["userdel", user], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class ProxiedConnection:
    """One client connection through the proxy and the bytes it carried to the client."""

    to_client: int = 0


class CuttingProxy:
    """A TCP proxy on loopback to `target_port` that cuts the n-th connection after
    `budgets[n]` bytes have gone to the client (None: never; 0: at once). Connections
    beyond the list use its last budget."""

    def __init__(self, target_port: int, budgets: list[int | None]) -> None:
        self.target_port = target_port
        self.budgets = budgets
        self.connections: list[ProxiedConnection] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            index = len(self.connections)
            budget = self.budgets[min(index, len(self.budgets) - 1)]
            connection = ProxiedConnection()
            self.connections.append(connection)
            if budget == 0:
                client.close()
                continue
            server = socket.create_connection(("127.0.0.1", self.target_port))
            cut = threading.Event()
            threading.Thread(
                target=self._pump, args=(client, server, None, None, cut), daemon=True
            ).start()
            threading.Thread(
                target=self._pump, args=(server, client, connection, budget, cut), daemon=True
            ).start()

    @staticmethod
    def _pump(
        source: socket.socket,
        sink: socket.socket,
        connection: ProxiedConnection | None,
        budget: int | None,
        cut: threading.Event,
    ) -> None:
        try:
            while not cut.is_set() and (data := source.recv(65536)):
                sink.sendall(data)
                if connection is not None:
                    connection.to_client += len(data)
                    if budget is not None and connection.to_client >= budget:
                        break
        except OSError:
            pass
        cut.set()
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
            end.close()
