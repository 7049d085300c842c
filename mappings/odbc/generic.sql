-- arlink's generic AR schema for a SQL-database ERP reached over ODBC.
--
-- One script for SQLite and PostgreSQL (plain SQL-92 types, no generated ids): run it
-- once with the admin's own tool (psql -f, sqlite3 < ...). mappings/odbc/generic.toml
-- holds the queries arlink runs against these tables; a database with its own AR
-- tables copies that mapping and edits the SQL instead.
--
-- Who writes what:
--   the ERP         ar_customers, ar_customer_bank_accounts, ar_customer_aliases,
--                   ar_open_items (and moves `updated_at` on every change)
--   arlink          ar_cash_receipts, ar_receipt_applications, ar_exceptions
--                   (and lowers ar_open_items.open_amount as it applies cash)
--   the AR clerk    the resolution_* columns and resolved_at of ar_exceptions
--
-- Timestamps are UTC without a zone. On SQLite write them as text
-- 'YYYY-MM-DD HH:MM:SS.SSS' (what the SQLite ODBC driver writes): the incremental pull
-- compares them as text. Money is NUMERIC(18,4) in the currency's major unit.

CREATE TABLE ar_customers (
    id              VARCHAR(64)     NOT NULL PRIMARY KEY,
    name            VARCHAR(200)    NOT NULL,
    parent_id       VARCHAR(64)     REFERENCES ar_customers (id),
    payment_terms   VARCHAR(64),
    updated_at      TIMESTAMP       NOT NULL
);
CREATE INDEX ar_customers_changed ON ar_customers (updated_at, id);

-- Accounts a customer pays from: a payment from one of them names its payer.
CREATE TABLE ar_customer_bank_accounts (
    customer_id     VARCHAR(64)     NOT NULL REFERENCES ar_customers (id),
    account_number  VARCHAR(64)     NOT NULL,
    PRIMARY KEY (customer_id, account_number)
);

-- Other names a customer pays under (a subsidiary, a remitter, a bank's abbreviation).
CREATE TABLE ar_customer_aliases (
    customer_id     VARCHAR(64)     NOT NULL REFERENCES ar_customers (id),
    alias           VARCHAR(200)    NOT NULL,
    PRIMARY KEY (customer_id, alias)
);

-- Receivables. `status` is 'open' while money is due, then 'paid' (or the ERP's
-- 'cancelled', 'disputed', ...): only 'open' items with an open amount are matched.
CREATE TABLE ar_open_items (
    id              VARCHAR(64)     NOT NULL PRIMARY KEY,
    number          VARCHAR(64)     NOT NULL,
    customer_id     VARCHAR(64)     NOT NULL REFERENCES ar_customers (id),
    currency        VARCHAR(3)      NOT NULL,
    total           NUMERIC(18, 4)  NOT NULL,
    open_amount     NUMERIC(18, 4)  NOT NULL,
    issue_date      DATE,
    due_date        DATE,
    po_number       VARCHAR(64),
    payment_terms   VARCHAR(64),
    status          VARCHAR(16)     NOT NULL DEFAULT 'open',
    updated_at      TIMESTAMP       NOT NULL
);
CREATE INDEX ar_open_items_changed ON ar_open_items (updated_at, id);

-- One row per bank payment arlink applied (its payment id: bank file digest + record).
CREATE TABLE ar_cash_receipts (
    payment_id      VARCHAR(64)     NOT NULL PRIMARY KEY,
    bank_account    VARCHAR(64)     NOT NULL,
    value_date      DATE,
    amount          NUMERIC(18, 4)  NOT NULL,
    currency        VARCHAR(3)      NOT NULL,
    payer_name      VARCHAR(200),
    bank_reference  VARCHAR(100),
    remittance      TEXT,
    created_at      TIMESTAMP       NOT NULL
);

-- What part of a receipt settled which open item. The idempotency key is unique: a
-- rerun after a lost confirmation finds it and posts nothing twice.
CREATE TABLE ar_receipt_applications (
    idempotency_key VARCHAR(40)     NOT NULL PRIMARY KEY,
    payment_id      VARCHAR(64)     NOT NULL REFERENCES ar_cash_receipts (payment_id),
    invoice_id      VARCHAR(64)     NOT NULL REFERENCES ar_open_items (id),
    amount          NUMERIC(18, 4)  NOT NULL,
    discount        NUMERIC(18, 4)  NOT NULL,
    write_off       NUMERIC(18, 4)  NOT NULL,
    currency        VARCHAR(3)      NOT NULL,
    reasons         TEXT            NOT NULL,
    created_at      TIMESTAMP       NOT NULL
);
CREATE INDEX ar_receipt_applications_invoice ON ar_receipt_applications (invoice_id);

-- The clerk's queue: cash arlink could not apply, why, and its best guesses. The clerk
-- resolves an item by filling resolution_action ('apply' with resolution_invoice_id,
-- 'on_account', or 'not_ours'), optionally resolution_amount and resolution_note, and
-- resolved_at; arlink reads resolutions back by resolved_at.
CREATE TABLE ar_exceptions (
    idempotency_key         VARCHAR(40)     NOT NULL PRIMARY KEY,
    payment_id              VARCHAR(64)     NOT NULL,
    status                  VARCHAR(16)     NOT NULL DEFAULT 'open',
    reason                  VARCHAR(32)     NOT NULL,
    amount                  NUMERIC(18, 4)  NOT NULL,
    currency                VARCHAR(3)      NOT NULL,
    payer_name              VARCHAR(200),
    bank_reference          VARCHAR(100),
    value_date              DATE,
    remittance              TEXT,
    details                 TEXT            NOT NULL,
    suggestions             TEXT            NOT NULL,
    created_at              TIMESTAMP       NOT NULL,
    resolution_action       VARCHAR(16)
        CHECK (resolution_action IN ('apply', 'on_account', 'not_ours')),
    resolution_invoice_id   VARCHAR(64),
    resolution_amount       NUMERIC(18, 4),
    resolution_note         TEXT,
    resolved_at             TIMESTAMP
);
CREATE INDEX ar_exceptions_payment ON ar_exceptions (payment_id);
CREATE INDEX ar_exceptions_resolved ON ar_exceptions (resolved_at, idempotency_key);
