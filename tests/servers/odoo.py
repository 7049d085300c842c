"""A test server that speaks Odoo's XML-RPC wire protocol with Odoo's semantics.

It serves `/xmlrpc/2/common` (`version`, `authenticate`) and `/xmlrpc/2/object`
(`execute_kw`), and the same through `/jsonrpc` (`call` with `service`/`method`/`args`;
errors `{"code": 200, "data": {"name": "odoo.exceptions.UserError", ...}}`), on a free
loopback port, in a thread, so a connector talks to it with
the same stdlib `xmlrpc.client.ServerProxy` it uses against a real Odoo 16/17/18.
What it reproduces, as established against real servers (issue 4):

- the ORM verbs `search`, `search_read`, `search_count`, `read`, `create`, `write`,
  `unlink`, `fields_get`, `check_access_rights`, and `message_post` on mail threads;
- domains in prefix notation (`&`, `|`, `!`, implicit `&`) with `=`, `!=`, `<`, `<=`,
  `>`, `>=`, `in`, `not in`, `like`, `ilike`, `=like`, `=?`, one level of dotted paths;
  `False` is SQL NULL (so `('amount', '=', False)` never matches `0.0`), `!=` and
  `not in` include NULLs, `active` records only unless the domain names `active`;
- each model's default order, NULLs last ascending and first descending (PostgreSQL);
- many-to-one values read as `[id, "display name"]`, `write_date` as UTC text;
- faults as `odoo/addons/base/controllers/rpc.py` builds them: 1 application error
  (a traceback), 2 UserError, 3 AccessDenied, 4 AccessError; a failed call rolls back;
- `account.move` `action_post`, `button_draft` and `button_cancel` (the last two return
  None, as the real ones do); the wizard refuses an entry that is not posted (UserError);
- the `account.payment.register` wizard: batches by commercial partner and currency,
  the wizard's amount and communication used only for one editable batch that is a
  single invoice or grouped (`group_payment`, default off for several invoices), the
  difference left `open` or written off (`reconcile` with `writeoff_account_id`),
  invoices' `amount_residual` and `payment_state` moved by the payment;
- version 17 (payment `ref`, states `draft/posted/cancel`) or 18 (payment `memo`,
  states `in_process/paid`, invoice `blocked`), 16 behaving as 17;
- a method returning None: the transaction commits, then marshalling the answer fails
  with Fault 1 "cannot marshal None" (`account.payment.action_post` does this for real;
  `return_none_after_commit` makes any method do it), and `delay_after_commit` answers
  late so a client timeout fires after the commit;
- a proxy in front of a restarting or rate-limited Odoo: `unavailable` answers the next
  requests HTTP 503, each with its `Retry-After` seconds (None: without the header);
- `after_commit(model, method)` is called after each write committed and before its
  answer is sent: a crash test kills its client there.

Amounts are Decimals inside (PostgreSQL numeric) and floats on the wire, as in Odoo.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import threading
import time
import traceback
import xmlrpc.client
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from socketserver import ThreadingMixIn
from typing import Any
from xmlrpc.server import (
    MultiPathXMLRPCServer,
    SimpleXMLRPCDispatcher,
    SimpleXMLRPCRequestHandler,
)

# ---------------------------------------------------------------------------------------
# Errors, as Odoo raises them, and their fault codes (odoo/addons/base/controllers/rpc.py)


class UserError(Exception):
    """odoo.exceptions.UserError (and ValidationError): Fault 2."""


class AccessDenied(Exception):  # noqa: N818 (Odoo's name)
    """odoo.exceptions.AccessDenied (bad login or password on execute_kw): Fault 3."""


class AccessError(Exception):
    """odoo.exceptions.AccessError (no right on a model): Fault 4."""


def _fault(error: BaseException) -> xmlrpc.client.Fault:
    if isinstance(error, AccessError):
        return xmlrpc.client.Fault(4, str(error))
    if isinstance(error, AccessDenied):
        return xmlrpc.client.Fault(3, str(error) or "Access Denied")
    if isinstance(error, UserError):
        return xmlrpc.client.Fault(2, str(error))
    return xmlrpc.client.Fault(1, "".join(traceback.format_exception(error)))


# ---------------------------------------------------------------------------------------
# Schema: the models and fields a books connector touches, with Odoo's types


@dataclass(frozen=True, slots=True)
class F:
    type: str
    relation: str | None = None
    string: str = ""
    computed: bool = False  # set by the server, not writable by clients


def m2o(relation: str, computed: bool = False) -> F:
    return F("many2one", relation, computed=computed)


def x2m(kind: str, relation: str, computed: bool = False) -> F:
    return F(kind, relation, computed=computed)


_COMMON = {
    "id": F("integer", computed=True),
    "display_name": F("char", computed=True),
    "create_date": F("datetime", computed=True),
    "write_date": F("datetime", computed=True),
}

SCHEMA: dict[str, dict[str, F]] = {
    "res.users": {
        "login": F("char"),
        "name": F("char"),
        "partner_id": m2o("res.partner"),
        "company_id": m2o("res.company"),
        "active": F("boolean"),
    },
    "res.company": {
        "name": F("char"),
        "partner_id": m2o("res.partner"),
        "currency_id": m2o("res.currency"),
    },
    "res.currency": {"name": F("char"), "decimal_places": F("integer"), "active": F("boolean")},
    "res.partner": {
        "name": F("char"),
        "complete_name": F("char", computed=True),
        "ref": F("char"),
        "email": F("char"),
        "is_company": F("boolean"),
        "parent_id": m2o("res.partner"),
        "commercial_partner_id": m2o("res.partner", computed=True),
        "customer_rank": F("integer"),
        "bank_ids": x2m("one2many", "res.partner.bank", True),
        "ref_company_ids": x2m("one2many", "res.company", True),
        "active": F("boolean"),
        # The address of an invoice or delivery contact (`type`), for EDI parties.
        "type": F("selection"),
        "street": F("char"),
        "city": F("char"),
        "zip": F("char"),
    },
    "res.partner.bank": {
        "acc_number": F("char"),
        "partner_id": m2o("res.partner"),
        "active": F("boolean"),
    },
    "account.journal": {"name": F("char"), "code": F("char"), "type": F("selection")},
    "account.account": {"name": F("char"), "code": F("char")},
    "account.payment.term": {"name": F("char")},
    "account.move": {
        "name": F("char"),
        "ref": F("char"),
        "payment_reference": F("char"),
        "move_type": F("selection"),
        "state": F("selection"),
        "partner_id": m2o("res.partner"),
        "commercial_partner_id": m2o("res.partner", computed=True),
        "invoice_date": F("date"),
        "invoice_date_due": F("date"),
        "date": F("date"),
        "currency_id": m2o("res.currency"),
        "invoice_payment_term_id": m2o("account.payment.term"),
        "invoice_line_ids": x2m("one2many", "account.move.line"),
        "partner_shipping_id": m2o("res.partner"),
        "amount_untaxed": F("monetary", computed=True),
        "amount_tax": F("monetary", computed=True),
        "amount_total": F("monetary", computed=True),
        "amount_residual": F("monetary", computed=True),
        "payment_state": F("selection"),
        "company_id": m2o("res.company"),
    },
    "account.payment": {
        "name": F("char", computed=True),
        "date": F("date"),
        "amount": F("monetary"),
        "currency_id": m2o("res.currency"),
        "partner_id": m2o("res.partner"),
        "journal_id": m2o("account.journal"),
        "state": F("selection"),
        "payment_type": F("selection"),
        "partner_type": F("selection"),
        "reconciled_invoice_ids": x2m("many2many", "account.move", True),
        "is_reconciled": F("boolean", computed=True),
    },
    "account.payment.register": {
        "payment_date": F("date"),
        "journal_id": m2o("account.journal"),
        "amount": F("monetary"),
        "communication": F("char"),
        "group_payment": F("boolean"),
        "payment_difference_handling": F("selection"),
        "writeoff_account_id": m2o("account.account"),
        "writeoff_label": F("char"),
        "can_edit_wizard": F("boolean", computed=True),
        "payment_difference": F("monetary", computed=True),
    },
    # Invoice lines: `display_type` 'product' lines carry amounts; 'line_section' and
    # 'line_note' are layout only (Odoo 17 also has tax and payment-term lines here).
    "account.move.line": {
        "move_id": m2o("account.move"),
        "display_type": F("selection"),
        "sequence": F("integer"),
        "name": F("char"),
        "product_id": m2o("product.product"),
        "product_uom_id": m2o("uom.uom"),
        "quantity": F("float"),
        "price_unit": F("float"),
        "discount": F("float"),
        "tax_ids": x2m("many2many", "account.tax"),
        "price_subtotal": F("monetary", computed=True),
        "price_total": F("monetary", computed=True),
    },
    "account.tax": {
        "name": F("char"),
        "amount": F("float"),
        "amount_type": F("selection"),
        "type_tax_use": F("selection"),
    },
    "product.product": {"name": F("char"), "default_code": F("char"), "barcode": F("char")},
    "uom.uom": {"name": F("char")},
    "mail.activity.type": {"name": F("char")},
    "mail.activity": {
        "res_model_id": m2o("ir.model"),
        "res_model": F("char", computed=True),
        "res_id": F("integer"),
        "activity_type_id": m2o("mail.activity.type"),
        "summary": F("char"),
        "note": F("html"),
        "user_id": m2o("res.users"),
        "date_deadline": F("date"),
        "active": F("boolean"),
    },
    "mail.message": {
        "model": F("char"),
        "res_id": F("integer"),
        "body": F("html"),
        "message_type": F("selection"),
        "mail_activity_type_id": m2o("mail.activity.type"),
        "date": F("datetime"),
        "author_id": m2o("res.partner"),
    },
    "ir.model": {"model": F("char"), "name": F("char")},
    "ir.model.data": {
        "module": F("char"),
        "name": F("char"),
        "model": F("char"),
        "res_id": F("integer"),
    },
}
# Odoo 17 renamed nothing here; 18 renamed the payment's `ref` to `memo`.
_PAYMENT_TEXT = {16: "ref", 17: "ref", 18: "memo"}

DEFAULT_ORDER = {
    "account.move": "date desc, name desc, id desc",
    "res.partner": "complete_name asc, id desc",
    "account.payment": "date desc, name desc",
    "mail.activity": "date_deadline asc, id asc",
    "mail.message": "id desc",
    "res.currency": "name asc",
    "account.journal": "code asc",
}
_THREADS = {"res.partner", "account.move", "account.payment"}  # models with a chatter
_OPERATORS = {"=", "!=", "<", "<=", ">", ">=", "in", "not in", "like", "ilike", "=like", "=?"}
_READS = {"search", "search_read", "search_count", "read", "fields_get", "check_access_rights"}
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NULL = (False, None)


def _is_null(value: Any) -> bool:
    # `value is False`, never `value == False`: 0.0 == False in Python, not in SQL.
    return value is None or value is False


def _like(pattern: str, value: str, insensitive: bool) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return (
        re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if insensitive else re.DOTALL)
        is not None
    )


# ---------------------------------------------------------------------------------------
# The database: tables of records, the ORM verbs, domains and orders


@dataclass
class Wizard:
    """An `account.payment.register` record's state beyond its fields: its invoices."""

    move_ids: list[int]
    context: dict[str, Any]


@dataclass
class Partial:
    """A reconciliation of an invoice with a payment (or its write-off): what was settled."""

    payment_id: int
    move_id: int
    amount: Decimal
    write_off: bool = False


@dataclass
class Database:
    version: int
    clock: Callable[[], datetime]
    tables: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    next_id: dict[str, int] = field(default_factory=dict)
    wizards: dict[int, Wizard] = field(default_factory=dict)
    partials: list[Partial] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)

    # -- helpers ---------------------------------------------------------------------

    def now_text(self) -> str:
        return self.clock().astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")

    def fields(self, model: str) -> dict[str, F]:
        try:
            fields = {**_COMMON, **SCHEMA[model]}
        except KeyError:
            raise UserError(f"Object {model} doesn't exist") from None
        if model == "account.payment":
            fields[_PAYMENT_TEXT[self.version]] = F("char")
        return fields

    def field(self, model: str, name: str) -> F:
        found = self.fields(model).get(name)
        if found is None:
            raise ValueError(f"Invalid field {name!r} on model {model!r}")
        return found

    def table(self, model: str) -> dict[int, dict[str, Any]]:
        self.fields(model)
        return self.tables.setdefault(model, {})

    def record(self, model: str, rid: int) -> dict[str, Any]:
        try:
            return self.table(model)[rid]
        except KeyError:
            raise UserError(
                f"Record does not exist or has been deleted.\n(Record: {model}({rid},))"
            ) from None

    def currency_places(self, currency_id: int) -> int:
        return self.record("res.currency", currency_id)["decimal_places"]

    def money(self, value: Any, currency_id: int) -> Decimal:
        places = self.currency_places(currency_id)
        return Decimal(str(value or 0)).quantize(Decimal(1).scaleb(-places))

    # -- values in and out ---------------------------------------------------------

    def _incoming(self, model: str, name: str, value: Any) -> Any:
        spec = self.field(model, name)
        if spec.computed:
            raise ValueError(f"field {name!r} of {model!r} is computed, not writable")
        if _is_null(value):
            return [] if spec.type in ("one2many", "many2many") else False
        if spec.type in ("float", "monetary"):
            return Decimal(str(float(value)))
        if spec.type == "date":
            text = value.isoformat() if isinstance(value, date) else str(value)
            if not _DATE.match(text):
                raise ValueError(f"time data {text!r} does not match format '%Y-%m-%d'")
            return text
        if spec.type == "datetime":
            return self._datetime_text(value)
        if spec.type == "many2one":
            self.record(spec.relation or "", int(value))
            return int(value)
        if spec.type == "boolean":
            return bool(value)
        return value

    @staticmethod
    def _datetime_text(value: Any) -> str:
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S")
        text = str(value)
        if _DATE.match(text):
            return text + " 00:00:00"
        if not _DATETIME.match(text):
            raise ValueError(f"time data {text!r} does not match format '%Y-%m-%d %H:%M:%S'")
        return text

    def display_name(self, model: str, rid: int) -> str:
        row = self.table(model).get(rid)
        if row is None:
            return ""
        if model == "res.partner":
            return row["complete_name"]
        return str(row.get("name") or row.get("model") or f"{model},{rid}")

    def _outgoing(self, model: str, row: dict[str, Any], name: str) -> Any:
        spec = self.field(model, name)
        value = row.get(name, False)
        if name == "display_name":
            return self.display_name(model, row["id"])
        if spec.type == "many2one":
            if _is_null(value):
                return False
            return [value, self.display_name(spec.relation or "", value)]
        if spec.type in ("float", "monetary"):
            return float(value or 0)
        if spec.type in ("one2many", "many2many"):
            return list(value or [])
        return value

    def read_rows(self, model: str, ids: list[int], fields: list[str] | None) -> list[dict]:
        names = fields or [name for name in self.fields(model) if name != "invoice_line_ids"]
        for name in names:
            self.field(model, name)
        out = []
        for rid in ids:
            row = self.record(model, rid)
            out.append({"id": rid, **{n: self._outgoing(model, row, n) for n in names}})
        return out

    # -- domains -------------------------------------------------------------------

    def _parse(self, domain: list[Any]) -> Any:
        items = list(domain)
        position = 0

        def term() -> Any:
            nonlocal position
            if position >= len(items):
                raise ValueError(f"Invalid domain: missing operand in {domain!r}")
            token = items[position]
            position += 1
            if isinstance(token, str) and token == "!":
                return ("!", term())
            if isinstance(token, str) and token in ("&", "|"):
                return (token, term(), term())
            if isinstance(token, list | tuple) and len(token) == 3:
                return ("leaf", tuple(token))
            raise ValueError(f"Invalid domain term {token!r}")

        terms = []
        while position < len(items):
            terms.append(term())
        tree: Any = ("true",)
        for one in reversed(terms):  # implicit '&' between top-level terms
            tree = ("&", one, tree)
        return tree

    def _eval(self, model: str, row: dict[str, Any], tree: Any) -> bool:
        kind = tree[0]
        if kind == "true":
            return True
        if kind == "!":
            return not self._eval(model, row, tree[1])
        if kind == "&":
            return self._eval(model, row, tree[1]) and self._eval(model, row, tree[2])
        if kind == "|":
            return self._eval(model, row, tree[1]) or self._eval(model, row, tree[2])
        return self._leaf(model, row, *tree[1])

    def _leaf(self, model: str, row: dict[str, Any], left: str, op: str, right: Any) -> bool:
        if op not in _OPERATORS:
            raise ValueError(f"Invalid leaf {(left, op, right)!r}")
        if op == "=?":
            if _is_null(right):
                return True
            op = "="
        if "." in left:
            head, rest = left.split(".", 1)
            spec = self.field(model, head)
            if spec.relation is None or "." in rest:
                raise ValueError(f"Invalid field path {left!r} on model {model!r}")
            hits = set(self.search(spec.relation, [(rest, op, right)], active_test=False))
            value = row.get(head)
            linked = value if isinstance(value, list) else ([] if _is_null(value) else [value])
            return any(rid in hits for rid in linked)
        spec = self.field(model, left)
        value = (
            row.get(left, False) if left != "display_name" else self.display_name(model, row["id"])
        )
        if spec.type in ("one2many", "many2many"):
            return self._x2many(value or [], op, right)
        if spec.type == "boolean":
            # A boolean is never NULL to a domain: False matches false and unset alike.
            if op not in ("=", "!=", "in", "not in"):
                raise ValueError(f"Invalid operator {op!r} for boolean field {left!r}")
            wanted = right if isinstance(right, list | tuple) else [right]
            hit = bool(value) in {bool(v) for v in wanted}
            return hit if op in ("=", "in") else not hit
        if spec.type == "many2one" and isinstance(right, str) and not _is_null(value):
            # Odoo matches a name against the related record's display name.
            value, spec = self.display_name(spec.relation or "", value), F("char")
        null = _is_null(value)
        if op in ("=", "!="):
            hit = null if _is_null(right) else not null and self._equal(spec, value, right)
            return hit if op == "=" else not hit
        if op in ("in", "not in"):
            values = list(right) if isinstance(right, list | tuple) else [right]
            hit = (null and any(_is_null(v) for v in values)) or (
                not null and any(self._equal(spec, value, v) for v in values if not _is_null(v))
            )
            return hit if op == "in" else not hit
        if null or _is_null(right):
            return False
        if op in ("like", "ilike", "=like"):
            pattern = str(right) if op == "=like" else f"%{right}%"
            return _like(pattern, str(value), insensitive=op == "ilike")
        left_value, right_value = value, self._coerce(spec, right)
        return {
            "<": left_value < right_value,
            "<=": left_value <= right_value,
            ">": left_value > right_value,
            ">=": left_value >= right_value,
        }[op]

    @staticmethod
    def _x2many(value: list[int], op: str, right: Any) -> bool:
        if _is_null(right):
            return (not value) if op == "=" else bool(value)
        wanted = set(right) if isinstance(right, list | tuple) else {right}
        hit = bool(wanted & set(value))
        return hit if op in ("=", "in") else not hit

    def _coerce(self, spec: F, right: Any) -> Any:
        if spec.type in ("float", "monetary"):
            return Decimal(str(float(right)))
        if spec.type in ("integer", "many2one"):
            return int(right)
        if spec.type == "datetime":
            return self._datetime_text(right)
        if spec.type == "date":
            return right.isoformat()[:10] if isinstance(right, date) else str(right)
        return right

    def _equal(self, spec: F, value: Any, right: Any) -> bool:
        return value == self._coerce(spec, right)

    def search(
        self,
        model: str,
        domain: list[Any],
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        active_test: bool = True,
    ) -> list[int]:
        tree = self._parse(domain)
        names = {leaf[0].split(".")[0] for leaf in domain if isinstance(leaf, list | tuple)}
        filter_active = active_test and "active" in self.fields(model) and "active" not in names
        rows = [
            row
            for row in self.table(model).values()
            if (not filter_active or row.get("active", True)) and self._eval(model, row, tree)
        ]
        rows = self._sorted(model, rows, order or DEFAULT_ORDER.get(model, "id asc"))
        rows = rows[offset:]
        if limit:
            rows = rows[:limit]
        return [row["id"] for row in rows]

    def _sorted(self, model: str, rows: list[dict], order: str) -> list[dict]:
        keys = []
        for part in order.split(","):
            words = part.split()
            if (
                not words
                or len(words) > 2
                or (len(words) == 2 and words[1].lower() not in ("asc", "desc"))
            ):
                raise ValueError(f'Invalid "order" specified ({order}).')
            keys.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
        if not any(name == "id" for name, _ in keys):
            keys.append(("id", False))  # Odoo appends id for a stable order
        for name, descending in reversed(keys):
            spec = self.field(model, name)

            def key(row: dict, name: str = name, spec: F = spec) -> tuple:
                value = (
                    row.get(name, False)
                    if name != "display_name"
                    else self.display_name(model, row["id"])
                )
                if spec.type == "many2one" and not _is_null(value):
                    value = self.display_name(spec.relation or "", value)
                # PostgreSQL: NULLs sort as larger than any value.
                return (1, "") if _is_null(value) and spec.type != "boolean" else (0, value)

            rows = sorted(rows, key=key, reverse=descending)
        return rows

    # -- writes --------------------------------------------------------------------

    def insert(self, model: str, values: dict[str, Any]) -> int:
        table = self.table(model)
        rid = self.next_id.get(model, 1)
        self.next_id[model] = rid + 1
        row: dict[str, Any] = {
            "id": rid,
            "create_date": self.now_text(),
            "write_date": self.now_text(),
        }
        for name, spec in self.fields(model).items():
            if name not in row:
                row[name] = [] if spec.type in ("one2many", "many2many") else False
        if "active" in row:
            row["active"] = True
        table[rid] = row
        for name, value in values.items():
            row[name] = self._incoming(model, name, value)
        return rid

    def update(self, model: str, rid: int, values: dict[str, Any]) -> None:
        row = self.record(model, rid)
        for name, value in values.items():
            row[name] = self._incoming(model, name, value)
        row["write_date"] = self.now_text()

    def touch(self, model: str, rid: int) -> None:
        self.record(model, rid)["write_date"] = self.now_text()

    def next_name(self, prefix: str, day: str) -> str:
        key = f"{prefix}/{day[:4]}"
        self.sequences[key] = self.sequences.get(key, 0) + 1
        return f"{key}/{self.sequences[key]:05d}"


# ---------------------------------------------------------------------------------------
# The server: RPC endpoints and the model-specific methods


class _ThreadedServer(ThreadingMixIn, MultiPathXMLRPCServer):
    daemon_threads = True
    odoo: OdooServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet about clients that went away (a crash test kills them mid-answer)."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/xmlrpc/2/common", "/xmlrpc/2/object", "/jsonrpc")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read faults, not access logs."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        """Serve the call, unless the server is set to answer it 503 (`unavailable`)."""
        busy, retry_after = self.server.odoo.next_unavailable()  # type: ignore[attr-defined]
        if not busy:
            super().do_POST()
            return
        self.rfile.read(int(self.headers.get("content-length", 0)))  # keep the stream in step
        self.send_response(503, "Service Unavailable")
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() == "content-type" and self.path == "/jsonrpc":
            value = "application/json"
        super().send_header(keyword, value)


_JSON_ERROR_NAMES = {
    UserError: "odoo.exceptions.UserError",
    AccessDenied: "odoo.exceptions.AccessDenied",
    AccessError: "odoo.exceptions.AccessError",
}


class _JsonDispatcher:
    """`/jsonrpc`: the `call` method routing `service`/`method`/`args` to the handlers,
    errors as Odoo's `_json_response` shapes them (code 200, `data.name` the class)."""

    def __init__(self, services: dict[str, dict[str, Callable[..., Any]]]) -> None:
        self.services = services

    def _marshaled_dispatch(
        self, data: bytes, dispatch_method: Any = None, path: Any = None
    ) -> bytes:
        request = json.loads(data)
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
        try:
            params = request["params"]
            handler = self.services[params["service"]][params["method"]]
            answer["result"] = handler(*params.get("args", []))
        except Exception as error:
            name = next(
                (n for kind, n in _JSON_ERROR_NAMES.items() if isinstance(error, kind)),
                f"builtins.{type(error).__name__}",
            )
            answer["error"] = {
                "code": 200,
                "message": "Odoo Server Error",
                "data": {
                    "name": name,
                    "debug": "".join(traceback.format_exception(error)),
                    "message": str(error),
                    "arguments": [str(error)],
                    "context": {},
                },
            }
        # Amounts are Decimals inside and JSON numbers on the wire, as in Odoo.
        return json.dumps(answer, default=_json_value).encode("utf-8")


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


class _Dispatcher(SimpleXMLRPCDispatcher):
    """Dispatches to the server's handlers and builds faults the way Odoo does."""

    def __init__(self, handlers: dict[str, Callable[..., Any]]) -> None:
        super().__init__(allow_none=False, encoding="utf-8", use_builtin_types=True)
        self.handlers = handlers

    def _marshaled_dispatch(
        self, data: bytes, dispatch_method: Any = None, path: Any = None
    ) -> bytes:
        try:
            params, method = xmlrpc.client.loads(data, use_datetime=True)
            handler = self.handlers.get(method or "")
            if handler is None:
                raise KeyError(f"unknown method {method!r}")
            result = handler(*params)
            # Marshalled after the commit: a None result fails here, the commit stands.
            body = xmlrpc.client.dumps((result,), methodresponse=True, allow_none=False)
        except Exception as error:  # every error becomes a fault, as in Odoo's rpc.py
            body = xmlrpc.client.dumps(_fault(error), methodresponse=True, allow_none=False)
        return body.encode("utf-8")


@dataclass
class OdooServer:
    """A running test server: its URL, database, users, and switches for the tests."""

    version: int = 17
    database: str = "arlink"
    enterprise: bool = False  # Enterprise shows paid invoices as `in_payment`
    url: str = ""
    db: Database = field(init=False)
    passwords: dict[str, str] = field(default_factory=lambda: {"admin": "admin"})
    denied: set[tuple[str, str]] = field(default_factory=set)  # (model, "read"/"write"/"create")
    return_none_after_commit: set[tuple[str, str]] = field(default_factory=set)
    delay_after_commit: dict[tuple[str, str], float] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    unavailable: list[int | None] = field(default_factory=list)  # Retry-After of each 503
    answered_unavailable: int = 0
    after_commit: Callable[[str, str], None] | None = None
    lock: threading.RLock = field(default_factory=threading.RLock)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        if self.version not in (16, 17, 18):
            raise ValueError(f"version must be 16, 17 or 18, found {self.version}")
        self.db = Database(self.version, lambda: self.clock())
        self._seed()

    # -- fixtures of a fresh database ------------------------------------------------

    def _seed(self) -> None:
        db = self.db
        for model in SCHEMA:
            db.insert("ir.model", {"model": model, "name": model})
        usd = db.insert("res.currency", {"name": "USD", "decimal_places": 2})
        db.insert("res.currency", {"name": "EUR", "decimal_places": 2})
        db.insert("res.currency", {"name": "JPY", "decimal_places": 0})
        db.insert("res.currency", {"name": "KWD", "decimal_places": 3})
        partner = db.insert("res.partner", {"name": "YourCompany", "is_company": True})
        self._partner_computed(partner)
        company = db.insert(
            "res.company", {"name": "YourCompany", "partner_id": partner, "currency_id": usd}
        )
        self._partner_computed(partner)
        admin_partner = db.insert("res.partner", {"name": "Mitchell Admin", "parent_id": partner})
        self._partner_computed(admin_partner)
        db.insert("res.users", {"login": "__system__", "name": "OdooBot", "company_id": company})
        db.insert(
            "res.users",
            {
                "login": "admin",
                "name": "Mitchell Admin",
                "partner_id": admin_partner,
                "company_id": company,
            },
        )
        db.insert("account.journal", {"name": "Bank", "code": "BNK1", "type": "bank"})
        db.insert("account.journal", {"name": "Cash", "code": "CSH1", "type": "cash"})
        db.insert("account.account", {"name": "Cash Discount Loss", "code": "642000"})
        db.insert("account.account", {"name": "Write-off", "code": "650000"})
        todo = db.insert("mail.activity.type", {"name": "To-Do" if self.version >= 17 else "To Do"})
        db.insert(
            "ir.model.data",
            {
                "module": "mail",
                "name": "mail_activity_data_todo",
                "model": "mail.activity.type",
                "res_id": todo,
            },
        )

    # -- RPC entry points ------------------------------------------------------------

    def _version(self) -> dict[str, Any]:
        return {
            "server_version": f"{self.version}.0",
            "server_version_info": [self.version, 0, 0, "final", 0, ""],
            "server_serie": f"{self.version}.0",
            "protocol_version": 1,
        }

    def _uid(self, login: str, password: str) -> int | None:
        if self.passwords.get(login) != password:
            return None
        for row in self.db.table("res.users").values():
            if row["login"] == login:
                return row["id"]
        return None

    def _authenticate(self, database: str, login: str, password: str, _env: Any = None) -> Any:
        self._check_database(database)
        return self._uid(login, password) or False

    def _check_database(self, database: str) -> None:
        if database != self.database:
            raise RuntimeError(f'FATAL:  database "{database}" does not exist')

    def _execute_kw(
        self,
        database: str,
        uid: int,
        password: str,
        model: str,
        method: str,
        args: list[Any] | None = None,
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        self._check_database(database)
        login = self.db.table("res.users").get(uid, {}).get("login")
        if login is None or self._uid(login, password) != uid:
            raise AccessDenied("Access Denied")
        args, kwargs = list(args or []), dict(kwargs or {})
        context = kwargs.pop("context", {}) or {}
        self.db.fields(model)
        if method.startswith("_"):
            raise AccessError(f"Private methods (such as '{method}') cannot be called remotely.")
        self.calls.append((model, method))
        with self.lock:
            if method in _READS:
                result = self._call(uid, model, method, args, kwargs, context)
            else:
                snapshot = copy.deepcopy(
                    (
                        self.db.tables,
                        self.db.next_id,
                        self.db.wizards,
                        self.db.partials,
                        self.db.sequences,
                    )
                )
                try:
                    result = self._call(uid, model, method, args, kwargs, context)
                except BaseException:
                    # A failed call rolls its transaction back.
                    (
                        self.db.tables,
                        self.db.next_id,
                        self.db.wizards,
                        self.db.partials,
                        self.db.sequences,
                    ) = snapshot
                    raise
        # Committed. What follows can still fail the answer, but not undo the commit.
        if self.after_commit is not None and method not in _READS:
            self.after_commit(model, method)
        if (model, method) in self.return_none_after_commit:
            result = None
        delay = self.delay_after_commit.get((model, method))
        if delay:
            time.sleep(delay)
        return result

    def _access(self, model: str, operation: str) -> None:
        if (model, operation) in self.denied:
            raise AccessError(
                f"You are not allowed to {'access' if operation == 'read' else operation} "
                f"'{model}' ({model}) records."
            )

    def _call(
        self, uid: int, model: str, method: str, args: list, kwargs: dict, context: dict
    ) -> Any:
        db = self.db
        special = getattr(self, f"_m_{model.replace('.', '_')}_{method}", None)
        if special is not None:
            self._access(model, "write")
            return special(uid, *args, context=context, **kwargs)
        if method == "message_post" and model in _THREADS:
            return self._message_post(uid, model, *args, **kwargs)
        if method == "check_access_rights":
            operation = args[0] if args else kwargs["operation"]
            allowed = (model, operation) not in self.denied
            if not allowed and kwargs.get("raise_exception", True):
                self._access(model, operation)
            return allowed
        if method == "fields_get":
            self._access(model, "read")
            attributes = kwargs.get("attributes") or ["type", "string", "relation"]
            wanted = kwargs.get("allfields") or (args[0] if args else None)
            out = {}
            for name, spec in db.fields(model).items():
                if name == "id" or (wanted and name not in wanted):
                    continue
                full = {
                    "type": spec.type,
                    "string": spec.string or name,
                    "readonly": spec.computed,
                    **({"relation": spec.relation} if spec.relation else {}),
                }
                out[name] = {key: value for key, value in full.items() if key in attributes}
            return out
        if method in ("search", "search_read", "search_count"):
            self._access(model, "read")
            domain = args[0] if args else kwargs.pop("domain", [])
            active_test = context.get("active_test", True)
            if method == "search_count":
                ids = db.search(model, domain, active_test=active_test)
                return min(len(ids), kwargs["limit"]) if kwargs.get("limit") else len(ids)
            if method == "search_read":
                fields = args[1] if len(args) > 1 else kwargs.get("fields")
                ids = db.search(
                    model,
                    domain,
                    kwargs.get("offset", 0),
                    kwargs.get("limit"),
                    kwargs.get("order"),
                    active_test,
                )
                return db.read_rows(model, ids, fields)
            offset = args[1] if len(args) > 1 else kwargs.get("offset", 0)
            limit = args[2] if len(args) > 2 else kwargs.get("limit")
            order = args[3] if len(args) > 3 else kwargs.get("order")
            return db.search(model, domain, offset, limit, order, active_test)
        if method == "read":
            self._access(model, "read")
            ids = args[0] if isinstance(args[0], list) else [args[0]]
            fields = args[1] if len(args) > 1 else kwargs.get("fields")
            return db.read_rows(model, ids, fields)
        if method == "create":
            self._access(model, "create")
            many = isinstance(args[0], list)
            ids = [
                self._create(uid, model, values, context)
                for values in (args[0] if many else [args[0]])
            ]
            return ids if many else ids[0]
        if method == "write":
            self._access(model, "write")
            for rid in args[0]:
                self._write(model, rid, args[1])
            return True
        if method == "unlink":
            self._access(model, "unlink")
            for rid in args[0]:
                db.record(model, rid)
                del db.table(model)[rid]
            return True
        raise AttributeError(f"The method '{method}' does not exist on the model '{model}'")

    # -- create/write with the models' computed fields ------------------------------

    def _create(self, uid: int, model: str, values: dict[str, Any], context: dict) -> int:
        db = self.db
        values = dict(values)
        if model == "account.payment.register":
            return self._create_wizard(values, context)
        if model == "mail.activity":
            return self._create_activity(uid, values)
        lines = values.pop("invoice_line_ids", None) if model == "account.move" else None
        if model == "account.move":
            values.setdefault("state", "draft")
            values.setdefault("move_type", "entry")
            values.setdefault("payment_state", "not_paid")
            values.setdefault("date", values.get("invoice_date") or self.clock().date().isoformat())
            values.setdefault("company_id", 1)
            if not values.get("currency_id"):
                values["currency_id"] = db.record("res.company", 1)["currency_id"]
        rid = db.insert(model, values)
        if model == "res.partner":
            self._partner_computed(rid)
        if model == "res.partner.bank":
            self._partner_computed(db.record(model, rid)["partner_id"])
        if model == "account.move":
            row = db.record(model, rid)
            untaxed = tax = Decimal(0)
            for sequence, command in enumerate(lines or [], start=1):
                if command[0] != 0:
                    raise ValueError(f"unsupported x2many command {command[0]}")
                line_untaxed, line_tax = self._create_line(rid, sequence, command[2])
                untaxed += line_untaxed
                tax += line_tax
            row["_untaxed"] = db.money(untaxed, row["currency_id"])
            row["_tax"] = db.money(tax, row["currency_id"])
            row["_total"] = row["_untaxed"] + row["_tax"]
            row["commercial_partner_id"] = (
                self._commercial(row["partner_id"]) if row["partner_id"] else False
            )
            self._move_computed(rid)
        return rid

    def _create_line(
        self, move: int, sequence: int, values: dict[str, Any]
    ) -> tuple[Decimal, Decimal]:
        """One `account.move.line` of a new invoice; its untaxed amount and tax (rounded per
        line, Odoo's default). Sections and notes carry no amount."""
        db = self.db
        values = {"display_type": "product", "sequence": sequence, "quantity": 1, **values}
        tax_ids: list[int] = []
        for command in values.pop("tax_ids", None) or []:
            # (6, 0, ids) replaces the set; (4, id) adds one; plain ids as a shorthand.
            if isinstance(command, int):
                tax_ids.append(command)
            elif command[0] == 6:
                tax_ids = list(command[2])
            elif command[0] == 4:
                tax_ids.append(command[1])
            else:
                raise ValueError(f"unsupported x2many command {command[0]}")
        lid = db.insert("account.move.line", {**values, "move_id": move})
        line = db.record("account.move.line", lid)
        line["tax_ids"] = [db.record("account.tax", t)["id"] for t in tax_ids]
        db.record("account.move", move)["invoice_line_ids"].append(lid)
        if line["display_type"] != "product":
            return Decimal(0), Decimal(0)
        currency = db.record("account.move", move)["currency_id"]
        discount = 1 - (line["discount"] or Decimal(0)) / 100
        untaxed = db.money(line["quantity"] * line["price_unit"] * discount, currency)
        tax = sum(
            (
                db.money(untaxed * db.record("account.tax", t)["amount"] / 100, currency)
                for t in line["tax_ids"]
                if db.record("account.tax", t)["amount_type"] == "percent"
            ),
            Decimal(0),
        )
        line["price_subtotal"], line["price_total"] = untaxed, untaxed + tax
        return untaxed, tax

    def _write(self, model: str, rid: int, values: dict[str, Any]) -> None:
        db = self.db
        row = db.record(model, rid)
        if model == "account.move" and row["state"] == "posted":
            locked = {"partner_id", "currency_id", "invoice_line_ids", "move_type"} & set(values)
            if locked:
                raise UserError(
                    "You cannot modify the following readonly fields on a posted move: "
                    + ", ".join(sorted(locked))
                )
        if (
            model == "account.move"
            and values.get("payment_state") == "blocked"
            and self.version < 18
        ):
            raise ValueError("Wrong value for account.move.payment_state: 'blocked'")
        db.update(model, rid, values)
        if model == "res.partner":
            self._partner_computed(rid)
        if model == "account.move":
            self._move_computed(rid)

    def _commercial(self, partner_id: int) -> int:
        row = self.db.record("res.partner", partner_id)
        while not row["is_company"] and row["parent_id"]:
            row = self.db.record("res.partner", row["parent_id"])
        return row["id"]

    def _partner_computed(self, rid: int) -> None:
        db = self.db
        for row in db.table("res.partner").values():
            parent = row["parent_id"]
            row["complete_name"] = (
                f"{db.record('res.partner', parent)['name']}, {row['name']}"
                if parent
                else row["name"]
            )
            row["commercial_partner_id"] = self._commercial(row["id"])
            row["ref_company_ids"] = [
                company["id"]
                for company in db.table("res.company").values()
                if company["partner_id"] == row["id"]
            ]
            row["bank_ids"] = [
                bank["id"]
                for bank in db.table("res.partner.bank").values()
                if bank["partner_id"] == row["id"]
            ]

    def _move_computed(self, rid: int) -> None:
        db = self.db
        row = db.record("account.move", rid)
        row["amount_total"] = row.get("_total", Decimal(0))
        row["amount_untaxed"] = row.get("_untaxed", row["amount_total"])
        row["amount_tax"] = row.get("_tax", Decimal(0))
        settled = sum((p.amount for p in db.partials if p.move_id == rid), Decimal(0))
        row["amount_residual"] = db.money(row["amount_total"] - settled, row["currency_id"])
        if row["state"] != "posted" or row["move_type"] not in ("out_invoice", "out_refund"):
            return
        if row["payment_state"] == "blocked":
            return
        if not settled:
            row["payment_state"] = "not_paid"
        elif row["amount_residual"]:
            row["payment_state"] = "partial"
        else:
            row["payment_state"] = "in_payment" if self.enterprise or self.version >= 18 else "paid"

    # -- account.move ------------------------------------------------------------

    def _m_account_move_action_post(self, uid: int, ids: list[int], context: dict) -> bool:
        for rid in ids:
            row = self.db.record("account.move", rid)
            if row["state"] == "posted":
                raise UserError("The entry is already posted.")
            if row["move_type"] == "out_invoice" and not row["partner_id"]:
                raise UserError(
                    "The field 'Customer' is required, please complete it to validate "
                    "the Customer Invoice."
                )
            if not row["name"] or row["name"] == "/":
                row["name"] = self.db.next_name("INV", row["date"])
            if not row["invoice_date_due"]:
                row["invoice_date_due"] = row["invoice_date"] or row["date"]
            row["state"] = "posted"
            row["payment_reference"] = row["payment_reference"] or row["name"]
            self.db.touch("account.move", rid)
            self._move_computed(rid)
        return False  # account.move.action_post returns False since 17

    def _m_account_move_button_draft(self, uid: int, ids: list[int], context: dict) -> None:
        """Reset to draft, as a user unlocking an invoice; returns None like the real one."""
        for rid in ids:
            row = self.db.record("account.move", rid)
            if row["state"] == "draft":
                raise UserError("Only posted/cancelled journal entries can be reset to draft.")
            row["state"] = "draft"
            self.db.touch("account.move", rid)

    def _m_account_move_button_cancel(self, uid: int, ids: list[int], context: dict) -> None:
        """Cancel a draft entry (the register-payment wizard then refuses it); returns None."""
        for rid in ids:
            row = self.db.record("account.move", rid)
            if row["state"] != "draft":
                raise UserError("Only draft journal entries can be cancelled.")
            row["state"] = "cancel"
            self.db.touch("account.move", rid)

    def _m_account_payment_action_post(self, uid: int, ids: list[int], context: dict) -> None:
        """Returns None, as the real one does: the XML-RPC answer then fails after the commit."""
        for rid in ids:
            self.db.update(
                "account.payment", rid, {"state": "posted" if self.version < 18 else "in_process"}
            )

    # -- account.payment.register ---------------------------------------------------

    def _batches(self, move_ids: list[int]) -> list[list[int]]:
        batches: dict[tuple[int, int], list[int]] = {}
        for rid in move_ids:
            row = self.db.record("account.move", rid)
            batches.setdefault((row["commercial_partner_id"], row["currency_id"]), []).append(rid)
        return list(batches.values())

    def _create_wizard(self, values: dict[str, Any], context: dict) -> int:
        db = self.db
        if context.get("active_model") != "account.move" or not context.get("active_ids"):
            raise UserError(
                "The register payment wizard should only be called on account.move "
                "or account.move.line records."
            )
        moves = [db.record("account.move", rid) for rid in context["active_ids"]]
        if any(move["state"] != "posted" for move in moves):
            raise UserError("You can only register payment for posted journal entries.")
        payable = [
            m["id"] for m in moves if m["amount_residual"] and m["payment_state"] != "blocked"
        ]
        if not payable:
            raise UserError(
                "You can't register a payment because there is nothing left to pay "
                "on the selected journal items."
            )
        batches = self._batches(payable)
        editable = len(batches) == 1
        first = [db.record("account.move", rid) for rid in batches[0]]
        residual = sum((m["amount_residual"] for m in first), Decimal(0))
        defaults = {
            "payment_date": self.clock().date().isoformat(),
            "journal_id": min(
                j["id"] for j in db.table("account.journal").values() if j["type"] == "bank"
            ),
            "amount": residual if editable else Decimal(0),
            "communication": " ".join(m["payment_reference"] or m["name"] for m in first)
            if editable
            else False,
            "group_payment": editable and len(first) == 1,
            "payment_difference_handling": "open",
        }
        rid = db.insert("account.payment.register", {})
        row = db.record("account.payment.register", rid)
        row.update(defaults)
        for name, value in values.items():
            row[name] = db._incoming("account.payment.register", name, value)
        row["can_edit_wizard"] = editable
        row["payment_difference"] = residual - row["amount"] if editable else Decimal(0)
        db.wizards[rid] = Wizard(payable, dict(context))
        return rid

    def _m_account_payment_register_action_create_payments(
        self, uid: int, ids: list[int], context: dict
    ) -> Any:
        db = self.db
        created = []
        for rid in ids:
            wizard, row = db.wizards[rid], db.record("account.payment.register", rid)
            batches = self._batches(wizard.move_ids)
            if row["can_edit_wizard"] and (len(wizard.move_ids) == 1 or row["group_payment"]):
                created.append(self._pay(row, batches[0], row["amount"], row["communication"]))
                continue
            # Not editable, or several invoices without group_payment: Odoo ignores the
            # wizard's amount and communication and pays each batch (or invoice) in full.
            if not row["group_payment"]:
                batches = [[move] for batch in batches for move in batch]
            for batch in batches:
                moves = [db.record("account.move", m) for m in batch]
                amount = sum((m["amount_residual"] for m in moves), Decimal(0))
                memo = " ".join(m["payment_reference"] or m["name"] for m in moves)
                created.append(
                    self._pay({**row, "payment_difference_handling": "open"}, batch, amount, memo)
                )
        # Only the context of this call counts: a wizard does not keep the one it was created with.
        if context.get("dont_redirect_to_payments"):
            return True
        return {
            "name": "Payments",
            "type": "ir.actions.act_window",
            "res_model": "account.payment",
            "context": {"create": False},
            "view_mode": "form" if len(created) == 1 else "tree,form",
            **(
                {"res_id": created[0]} if len(created) == 1 else {"domain": [("id", "in", created)]}
            ),
        }

    def _pay(self, wizard: dict[str, Any], move_ids: list[int], amount: Decimal, memo: Any) -> int:
        db = self.db
        moves = sorted(
            (db.record("account.move", m) for m in move_ids),
            key=lambda m: (m["invoice_date_due"] or m["date"], m["id"]),
        )
        currency = moves[0]["currency_id"]
        amount = db.money(amount, currency)
        if amount <= 0:
            raise UserError("The payment amount must be strictly positive.")
        residual = sum((m["amount_residual"] for m in moves), Decimal(0))
        difference = residual - amount
        write_off = wizard["payment_difference_handling"] == "reconcile" and difference != 0
        if write_off and not wizard["writeoff_account_id"]:
            raise UserError("The write-off account is required to mark the invoice as fully paid.")
        journal = db.record("account.journal", wizard["journal_id"])
        payment = db.insert(
            "account.payment",
            {
                "date": wizard["payment_date"],
                "amount": amount,
                "currency_id": currency,
                "partner_id": moves[0]["commercial_partner_id"],
                "journal_id": journal["id"],
                "payment_type": "inbound",
                "partner_type": "customer",
                "state": "posted" if self.version < 18 else "in_process",
                _PAYMENT_TEXT[self.version]: memo or False,
            },
        )
        prow = db.record("account.payment", payment)
        prow["name"] = db.next_name(f"P{journal['code']}", wizard["payment_date"])
        left = amount
        for move in moves:
            share = min(left, move["amount_residual"])
            if share > 0:
                db.partials.append(Partial(payment, move["id"], share))
                left -= share
            if write_off and move["amount_residual"] - share > 0:
                db.partials.append(
                    Partial(payment, move["id"], move["amount_residual"] - share, True)
                )
            prow["reconciled_invoice_ids"].append(move["id"])
            self._move_computed(move["id"])
            db.touch("account.move", move["id"])
        prow["is_reconciled"] = left == 0 or write_off
        return payment

    # -- mail ---------------------------------------------------------------------------

    def _create_activity(self, uid: int, values: dict[str, Any]) -> int:
        db = self.db
        for required in ("res_model_id", "res_id"):
            if not values.get(required):
                raise ValueError(
                    f'null value in column "{required}" of relation "mail_activity" '
                    "violates not-null constraint"
                )
        res_model = db.record("ir.model", values["res_model_id"])["model"]
        db.record(res_model, values["res_id"])
        if not values.get("activity_type_id"):
            (todo,) = db.search("ir.model.data", [("name", "=", "mail_activity_data_todo")])
            values["activity_type_id"] = db.record("ir.model.data", todo)["res_id"]
        values.setdefault("user_id", uid)
        values.setdefault("date_deadline", self.clock().date().isoformat())
        rid = db.insert("mail.activity", values)
        db.record("mail.activity", rid)["res_model"] = res_model
        return rid

    def _m_mail_activity_action_feedback(
        self,
        uid: int,
        ids: list[int],
        feedback: Any = False,
        attachment_ids: Any = None,
        context: dict | None = None,
    ) -> Any:
        """Mark done: a message on the record with the summary, note and feedback, then the
        activity is gone (unlinked, as for the To-Do type)."""
        db = self.db
        message = False
        for rid in ids:
            act = db.record("mail.activity", rid)
            kind = db.display_name("mail.activity.type", act["activity_type_id"])
            body = f"<p>{kind} done: {act['summary'] or ''}</p>"
            if act["note"]:
                body += f"<div>Original note:</div><div>{act['note']}</div>"
            if feedback:
                body += f"<div>Feedback:</div><div>{feedback}</div>"
            message = db.insert(
                "mail.message",
                {
                    "model": act["res_model"],
                    "res_id": act["res_id"],
                    "body": body,
                    "message_type": "notification",
                    "mail_activity_type_id": act["activity_type_id"],
                    "date": self.db.now_text(),
                    "author_id": db.record("res.users", uid)["partner_id"],
                },
            )
            del db.table("mail.activity")[rid]
        return message

    def _m_mail_activity_action_done(self, uid: int, ids: list[int], context: dict) -> Any:
        return self._m_mail_activity_action_feedback(uid, ids, context=context)

    def _message_post(
        self,
        uid: int,
        model: str,
        ids: Any,
        body: str = "",
        message_type: str = "notification",
        subtype_xmlid: str | None = None,
        **_: Any,
    ) -> int:
        rid = ids[0] if isinstance(ids, list) else ids
        self.db.record(model, rid)
        return self.db.insert(
            "mail.message",
            {
                "model": model,
                "res_id": rid,
                "body": body,
                "message_type": message_type,
                "date": self.db.now_text(),
                "author_id": self.db.record("res.users", uid)["partner_id"],
            },
        )

    # -- lifecycle ------------------------------------------------------------------

    def next_unavailable(self) -> tuple[bool, int | None]:
        """Whether the next request is answered 503, and with which `Retry-After`."""
        with self.lock:
            if not self.unavailable:
                return False, None
            self.answered_unavailable += 1
            return True, self.unavailable.pop(0)

    def start(self) -> None:
        server = _ThreadedServer(
            ("127.0.0.1", 0),
            requestHandler=_Handler,
            logRequests=False,
            allow_none=False,
            encoding="utf-8",
        )
        common = {"version": self._version, "authenticate": self._authenticate}
        server.add_dispatcher("/xmlrpc/2/common", _Dispatcher(common))
        server.add_dispatcher("/xmlrpc/2/object", _Dispatcher({"execute_kw": self._execute_kw}))
        server.odoo = self
        server.add_dispatcher(
            "/jsonrpc",
            _JsonDispatcher({"common": common, "object": {"execute_kw": self._execute_kw}}),
        )
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="odoo-test-server", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def start_odoo(version: int = 17, **options: Any) -> Iterator[OdooServer]:
    """Start a server for a fixture; stop it when the fixture ends."""
    server = OdooServer(version=version, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
