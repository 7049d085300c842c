"""A failed job is announced through the configured command and webhook (a real HTTP
server on loopback), and a broken notifier never changes the job's outcome."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from typer.testing import CliRunner
from workspace import make_workspace

from sync_jobs.cli import app


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        _Hook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    _Hook.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/arlink?token=s3cret"
    finally:
        server.shutdown()
        server.server_close()


def workspace(tmp_path: Path, notify: str) -> Path:
    make_workspace(
        tmp_path,
        'var_dir = "var"\n[books.main]\nkind = "files"\npath = "books"\n'
        '[sources.op]\nkind = "folder"\npath = "bank"\n'
        '[jobs.daily]\nbooks = "main"\nsources = ["op"]\n' + notify,
    )
    invoices = tmp_path / "books" / "open_invoices.csv"
    invoices.write_text(invoices.read_text() + "BAD,INV-X,C001,USD,1.001,1.00,,,,\n")
    return tmp_path


def test_failure_runs_the_command_and_posts_the_webhook(
    tmp_path: Path, webhook: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = tmp_path / "notified.json"
    script = tmp_path / "notify.py"
    script.write_text(
        "import json, os, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps("
        "{k: os.environ[k] for k in ('ARLINK_JOB', 'ARLINK_RUN_ID', 'ARLINK_ERROR')}))\n"
    )
    monkeypatch.setenv("ARLINK_TEST_WEBHOOK", webhook)
    folder = workspace(
        tmp_path,
        f"[notify]\ncommand = [{json.dumps(sys.executable)}, {json.dumps(str(script))}]\n"
        'webhook_url = { env = "ARLINK_TEST_WEBHOOK" }\n',
    )
    result = CliRunner().invoke(app, ["--config", str(folder / "config.toml"), "run", "daily"])
    assert result.exit_code == 1
    notified = json.loads(record.read_text())
    assert notified["ARLINK_JOB"] == "daily"
    assert notified["ARLINK_RUN_ID"]
    assert "open_invoices.csv" in notified["ARLINK_ERROR"]
    (posted,) = _Hook.received
    assert posted["event"] == "job_failed"
    assert posted["run_id"] == notified["ARLINK_RUN_ID"]
    assert "s3cret" not in result.stderr


def test_a_broken_notifier_is_a_warning_not_a_new_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARLINK_TEST_WEBHOOK", "http://127.0.0.1:9/nothing-listens?token=s3cret")
    folder = workspace(
        tmp_path,
        '[notify]\ncommand = ["/nonexistent/notifier"]\n'
        'webhook_url = { env = "ARLINK_TEST_WEBHOOK" }\n',
    )
    result = CliRunner().invoke(app, ["--config", str(folder / "config.toml"), "run", "daily"])
    assert result.exit_code == 1
    assert "notify command '/nonexistent/notifier' failed" in result.stderr
    assert "notify webhook failed" in result.stderr
    assert "s3cret" not in result.stderr
