from __future__ import annotations

from pathlib import Path

import pytest

from sync_jobs.config import ConfigError, load_config, parse_config
from sync_jobs.secrets import Secret

VALID = """
[books.main]
kind = "files"
path = "books"

[sources.operating]
kind = "folder"
path = "bank"
pattern = "*.bai2"

[jobs.daily]
books = "main"
sources = ["operating"]
"""


def problems(text: str, tmp_path: Path) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file=tmp_path / "config.toml")
    return {problem.path: problem.message for problem in caught.value.problems}


def test_valid_config_resolves_paths_against_its_folder(tmp_path: Path) -> None:
    loaded = parse_config(VALID, file=tmp_path / "config.toml")
    config = loaded.config
    assert config.books["main"].path == tmp_path / "books"
    assert config.sources["operating"].path == tmp_path / "bank"
    assert config.var_dir == tmp_path / "var"
    assert config.jobs["daily"].steps == ["pull", "fetch", "parse", "match", "write-back"]
    assert len(loaded.sha256) == 64


def test_every_problem_is_reported_at_once_with_its_key_path(tmp_path: Path) -> None:
    found = problems(
        """
[books.main]
kind = "filez"
path = "x"

[sources.operating]
kind = "folder"

[jobs.daily]
books = "nope"
sources = ["operating", "missing"]
steps = ["pull", "dance"]
colour = "blue"
""",
        tmp_path,
    )
    assert set(found) == {
        "books.main.kind",
        "sources.operating.path",
        "jobs.daily.books",
        "jobs.daily.sources.1",
        "jobs.daily.steps.1",
        "jobs.daily.colour",
    }
    assert "found 'filez'" in found["books.main.kind"]
    assert "no [books.nope]" in found["jobs.daily.books"]
    assert "unknown key" in found["jobs.daily.colour"]


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    found = problems("[books.main\nkind = 1\n", tmp_path)
    assert "line 1" in found["(syntax)"]


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_literal_secret_is_refused_without_echoing_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config('[ledger]\npassword = "hunter2"\n', file=tmp_path / "c.toml")
    assert "ledger.password" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_secret_from_env_is_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARLINK_TEST_SECRET", "s3cr3t-value")
    loaded = parse_config(
        '[ledger]\npassword = { env = "ARLINK_TEST_SECRET" }\n', file=tmp_path / "c.toml"
    )
    secret = loaded.config.ledger.password
    assert isinstance(secret, Secret)
    assert secret.reveal() == "s3cr3t-value"
    for shown in (repr(secret), str(secret), repr(loaded.config), str(loaded)):
        assert "s3cr3t-value" not in shown
    assert "env ARLINK_TEST_SECRET" in repr(secret)


def test_secret_from_file_relative_to_config(tmp_path: Path) -> None:
    (tmp_path / "ledger.secret").write_text("from-a-file\n")
    loaded = parse_config(
        '[ledger]\npassword = { file = "ledger.secret" }\n', file=tmp_path / "c.toml"
    )
    assert loaded.config.ledger.password.reveal() == "from-a-file"


def test_missing_secret_sources_are_problems(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARLINK_ABSENT", raising=False)
    found = problems(
        '[ledger]\npassword = { env = "ARLINK_ABSENT" }\n'
        '[books.main]\nkind = "files"\npath = "b"\n',
        tmp_path,
    )
    assert "ARLINK_ABSENT is not set" in found["ledger.password"]


def test_the_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.toml"
    loaded = load_config(example)
    assert "daily" in loaded.config.jobs


def test_ledger_password_comes_from_its_secret_and_is_never_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync_jobs.wiring import ledger_url

    monkeypatch.setenv("ARLINK_LEDGER_PW", "pa55-w0rd")
    loaded = parse_config(
        '[ledger]\nurl = "postgresql+psycopg://arlink@db.internal/arlink"\n'
        'password = { env = "ARLINK_LEDGER_PW" }\n',
        file=tmp_path / "c.toml",
    )
    url = ledger_url(loaded.config)
    assert url.password == "pa55-w0rd"
    assert "pa55-w0rd" not in str(url)
    assert "pa55-w0rd" not in repr(url)


def test_default_ledger_is_a_sqlite_file_under_var_dir(tmp_path: Path) -> None:
    from sync_jobs.wiring import ledger_url

    url = ledger_url(parse_config("", file=tmp_path / "c.toml").config)
    assert url.get_backend_name() == "sqlite"
    assert url.database == str(tmp_path / "var" / "ledger.sqlite3")


def test_remote_books_hosts_are_checked_with_their_key_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERP_SECRET", "pw")
    (tmp_path / "broken.toml").write_text("[customers]\n")
    found = problems(
        """
[books.sql]
kind = "odbc"
connection_string = "DRIVER={PostgreSQL Unicode};Server=db;UID=arlink;PWD=hunter2"
[books.bc]
kind = "soap"
url = "https://bc.example.com/WS/"
password = { env = "ERP_SECRET" }
token = { env = "ERP_SECRET" }
[books.own]
kind = "soap"
url = "https://erp.example.com/"
username = "arlink"
token = { env = "ERP_SECRET" }
mapping = "broken.toml"
""",
        tmp_path,
    )
    assert "password does not belong" in found["books.sql.connection_string"]
    assert "hunter2" not in " ".join(found.values())
    assert "exactly one of `password` or `token`" in found["books.bc"]
    assert "broken.toml" in found["books.own.mapping"]


def test_remote_books_defaults_are_the_shipped_mappings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ERP_SECRET", "pw")
    loaded = parse_config(
        """
[books.sql]
kind = "odbc"
connection_string = "DRIVER={SQLite3};Database=erp.db"
[books.bc]
kind = "soap"
url = "https://bc.example.com/WS/"
username = "arlink"
password = { env = "ERP_SECRET" }
""",
        file=tmp_path / "config.toml",
    )
    books = loaded.config.books
    assert books["sql"].mapping is None  # the shipped mappings/odbc/generic.toml
    assert books["bc"].mapping == "business_central"
    assert "pw" not in repr(books["bc"])
