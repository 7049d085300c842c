"""Crash safety over the Odoo test host: the daily demo job, its books in the Odoo test
server (tests/servers/odoo.py) running in this process, is forked and SIGKILLed at its
moments, rerun, and Odoo's payments, activities and invoices and the ledger are compared
with a run that never crashed: the same, and no key posted twice.

Two kinds of moment. The child's own (each file-system write and each ledger COMMIT,
seen from inside it as in test_crash_safety.py), and the host's: each write Odoo commits,
where the server, after the commit and before its answer leaves, kills the child. That is
the worst moment: Odoo holds the payment, the ledger says only `written`.

Sampling (`sample_moments`): of each kind of moment (its label: which table a COMMIT
wrote and which step it checkpointed, which folder a file went to, which Odoo model and
method committed), the first and the last. Every kind is covered and the sweep is the
same on every run. On the demo that is 36 of 36 child moments (nearly every one is of a
kind of its own) and 6 of 25 host commits (11 wizard creates, 11 `action_create_payments`,
3 activities), 42 kills in all.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import xmlrpc.client
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from servers.odoo import OdooServer, start_odoo
from test_crash_safety import ledger_state, rerun, run_in_fork, sample_moments
from workspace import ODOO_DEMO_CONFIG, ODOO_PASSWORD_ENV, make_workspace, seed_odoo_demo

from sync_jobs.config import load_config
from sync_jobs.ledger import open_ledger
from sync_jobs.wiring import ledger_url

KEY = re.compile(r"arl-[0-9a-f]{24}")


class HostKiller:
    """Installed as the server's `after_commit`: labels each write Odoo commits and, at the
    chosen one, SIGKILLs the child before Odoo's answer reaches it."""

    def __init__(self, server: OdooServer, kill_at: int) -> None:
        self.kill_at = kill_at
        self.labels: list[str] = []
        self._child = 0
        self._forked = threading.Event()
        server.after_commit = self

    def forked(self, pid: int) -> None:
        self._child = pid
        self._forked.set()

    def __call__(self, model: str, method: str) -> None:
        self.labels.append(f"host commit {model}.{method}")
        if len(self.labels) == self.kill_at:
            self._forked.wait()
            os.kill(self._child, signal.SIGKILL)


@contextmanager
def demo_odoo() -> Iterator[OdooServer]:
    """A fresh Odoo test server holding the demo's customers and open invoices."""
    lifecycle = start_odoo(17)
    server = next(lifecycle)
    try:
        seed_odoo_demo(server.url)
        yield server
    finally:
        lifecycle.close()  # start_odoo's `finally` stops the server


def odoo_state(server: OdooServer) -> dict[str, Any]:
    """Odoo's side: arlink's payments and activities, every invoice's open amount, each
    record's identity by id (for the ledger's external ids), and keys seen more than once."""
    models = xmlrpc.client.ServerProxy(f"{server.url}/xmlrpc/2/object")

    def call(model: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return models.execute_kw(server.database, 2, "admin", model, method, list(args), kwargs)

    payments = call(
        "account.payment",
        "search_read",
        [["ref", "ilike", "arl-"]],
        fields=["ref", "amount", "partner_id", "state"],
    )
    activities = call(
        "mail.activity",
        "search_read",
        [["summary", "ilike", "[arlink "]],
        fields=["summary", "res_model", "res_id"],
    )
    invoices = call(
        "account.move",
        "search_read",
        [["move_type", "=", "out_invoice"]],
        fields=["name", "amount_residual", "payment_state"],
    )
    keys = Counter(key for row in payments for key in KEY.findall(row["ref"]))
    keys += Counter(key for row in activities for key in KEY.findall(row["summary"]))
    return {
        "payments": sorted(
            (row["ref"], row["amount"], row["partner_id"][1], row["state"]) for row in payments
        ),
        "activities": sorted(
            (row["summary"], row["res_model"], row["res_id"]) for row in activities
        ),
        "invoices": sorted(
            (row["name"], row["amount_residual"], row["payment_state"]) for row in invoices
        ),
        "identity": {
            **{f"account.payment/{row['id']}": row["ref"] for row in payments},
            **{f"mail.activity/{row['id']}": row["summary"] for row in activities},
        },
        "duplicate_keys": sorted(key for key, seen in keys.items() if seen > 1),
    }


def found_by_key(workspace: Path) -> int:
    """How many applications a run confirmed because Odoo already held their key."""
    engine = open_ledger(ledger_url(load_config(workspace / "config.toml").config))
    try:
        with engine.connect() as conn:
            payloads = conn.execute(
                sa.text("SELECT payload FROM audit_log WHERE event = 'application_confirmed'")
            ).scalars()
            return sum(
                bool((json.loads(p) if isinstance(p, str) else p)["already_present"])
                for p in payloads
            )
    finally:
        engine.dispose()


def end_state(workspace: Path, server: OdooServer) -> dict[str, Any]:
    """Odoo's records and the ledger, with the ledger's external ids (Odoo's record ids,
    which differ between runs) replaced by what those records are."""
    odoo = odoo_state(server)
    identity = odoo.pop("identity")
    ledger = ledger_state(workspace)
    ledger["external_ids"] = sorted(
        (key, identity.get(external, f"missing in Odoo: {external}"))
        for key, external in ledger["external_ids"]
    )
    return {**odoo, **ledger}


def test_killed_at_sampled_moments_and_after_each_odoo_commit_then_rerun_ends_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(*ODOO_PASSWORD_ENV)  # inherited by the forked child
    with demo_odoo() as server:
        clean = make_workspace(tmp_path / "clean", ODOO_DEMO_CONFIG.format(url=server.url))
        host = HostKiller(server, 0)
        status, moments = run_in_fork(clean, 0, on_fork=host.forked)
        assert os.waitstatus_to_exitcode(status) == 0
        expected = end_state(clean, server)
    host_moments = host.labels
    assert expected["payments"]
    assert expected["activities"]
    assert expected["duplicate_keys"] == []
    assert "host commit account.payment.register.action_create_payments" in host_moments
    plan = [("child", k, moments[k - 1]) for k in sample_moments(moments)]
    plan += [("host", k, host_moments[k - 1]) for k in sample_moments(host_moments)]
    differences = {}
    for side, kill_at, label in plan:
        with demo_odoo() as server:
            workspace = make_workspace(
                tmp_path / f"{side}-{kill_at}", ODOO_DEMO_CONFIG.format(url=server.url)
            )
            host = HostKiller(server, kill_at if side == "host" else 0)
            child_kill = kill_at if side == "child" else 0
            status, _ = run_in_fork(workspace, child_kill, on_fork=host.forked)
            assert os.WIFSIGNALED(status), f"{side} moment {kill_at} ({label}): not killed"
            assert os.WTERMSIG(status) == signal.SIGKILL
            server.after_commit = None
            rerun(workspace)
            found = end_state(workspace, server)
        if label.endswith("action_create_payments"):
            # The worst moment happened: Odoo had the payment the ledger had not confirmed,
            # and the rerun found it by its key instead of posting it again.
            assert found_by_key(workspace) >= 1, f"{side} moment {kill_at} ({label})"
        if found != expected:
            differences[f"{side} {kill_at} {label}"] = {
                k: found[k] for k in found if found[k] != expected[k]
            }
    assert differences == {}
