-- arlink's generic AR schema for a SQL-database ERP reached over ODBC.
--
-- One script for SQLite and PostgreSQL (plain SQL-92 types, no generated ids): run it
-- once with the admin's own tool (psql -f, sqlite3 < ...). mappings/odbc/generic.toml
-- holds the queries arlink runs against these tables; a database with its own AR
-- tables copies that mapping and edits the SQL instead.
--
-- Who writes what:
--   the ERP         ar_customers, ar_customer_bank_accounts, ar_customer_aliases,
--                   ar_open_items (and moves `updated_at` on every change); for EDI
--                   ar_invoice_lines, _allowances, _taxes, _parties, _terms
--   arlink          ar_cash_receipts, ar_receipt_applications, ar_exceptions, ar_edi_status
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

-- For EDI (X12 810 / EDIFACT INVOIC), the ERP also writes each invoice's document: its
-- lines, allowances and charges, taxes, parties and terms, keyed by ar_open_items.id.
-- Quantities and unit prices may carry more decimals than the currency.
CREATE TABLE ar_invoice_lines (
    invoice_id          VARCHAR(64)     NOT NULL REFERENCES ar_open_items (id),
    line_number         VARCHAR(16)     NOT NULL,
    product_qualifier   VARCHAR(2)      NOT NULL DEFAULT 'VN',
    product_id          VARCHAR(48)     NOT NULL,
    quantity            NUMERIC(18, 6)  NOT NULL,
    unit                VARCHAR(4)      NOT NULL,
    unit_price          NUMERIC(18, 6)  NOT NULL,
    description         VARCHAR(200),
    PRIMARY KEY (invoice_id, line_number)
);

-- kind 'A' (allowance, lowers the total) or 'C' (charge); code is the X12 1300 code
-- (e.g. C310 discount, D240 freight). line_number NULL: on the whole invoice.
CREATE TABLE ar_invoice_allowances (
    invoice_id      VARCHAR(64)     NOT NULL REFERENCES ar_open_items (id),
    seq             INTEGER         NOT NULL,
    line_number     VARCHAR(16),
    kind            VARCHAR(1)      NOT NULL CHECK (kind IN ('A', 'C')),
    code            VARCHAR(4)      NOT NULL,
    amount          NUMERIC(18, 4)  NOT NULL,
    description     VARCHAR(200),
    PRIMARY KEY (invoice_id, seq)
);

-- tax_type is the X12 963 code (ST sales tax, VA value added); percent may be NULL.
CREATE TABLE ar_invoice_taxes (
    invoice_id      VARCHAR(64)     NOT NULL REFERENCES ar_open_items (id),
    tax_type        VARCHAR(3)      NOT NULL,
    amount          NUMERIC(18, 4)  NOT NULL,
    percent         NUMERIC(9, 4),
    PRIMARY KEY (invoice_id, tax_type)
);

-- role is the N101 code (BT bill-to, ST ship-to, RE remit-to); id_qualifier the N103
-- (92 assigned by buyer, UL GLN) of party_id.
CREATE TABLE ar_invoice_parties (
    invoice_id      VARCHAR(64)     NOT NULL REFERENCES ar_open_items (id),
    role            VARCHAR(3)      NOT NULL,
    name            VARCHAR(200)    NOT NULL,
    id_qualifier    VARCHAR(2),
    party_id        VARCHAR(80),
    PRIMARY KEY (invoice_id, role)
);

-- Terms from the invoice date: net days, and an optional early-payment discount.
CREATE TABLE ar_invoice_terms (
    invoice_id          VARCHAR(64)     NOT NULL PRIMARY KEY REFERENCES ar_open_items (id),
    net_days            INTEGER         NOT NULL,
    discount_percent    NUMERIC(9, 4),
    discount_days       INTEGER
);

-- arlink's journal of each invoice's EDI status (sent, accepted, rejected, ...), one row
-- per change; an invalid, rejected or overdue one is also an ar_exceptions row with
-- reason 'edi_<status>' and no payment, for the clerk to correct the invoice.
CREATE TABLE ar_edi_status (
    idempotency_key     VARCHAR(40)     NOT NULL PRIMARY KEY,
    invoice_id          VARCHAR(64)     NOT NULL,
    invoice_number      VARCHAR(64)     NOT NULL,
    partner             VARCHAR(64)     NOT NULL,
    status              VARCHAR(32)     NOT NULL,
    interchange_control VARCHAR(16)     NOT NULL,
    message             TEXT            NOT NULL,
    created_at          TIMESTAMP       NOT NULL
);
CREATE INDEX ar_edi_status_invoice ON ar_edi_status (invoice_id);
