from __future__ import annotations

from pathlib import Path

from connectors.folder import FolderTransport


def test_list_fetch_archive_put(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "b.bai2").write_bytes(b"01,two")
    (inbox / "a.bai2").write_bytes(b"01,one")
    (inbox / "notes.txt").write_text("not a bank file")
    (inbox / ".partial.bai2").write_bytes(b"half")
    source = FolderTransport("op", inbox, "*.bai2")
    assert source.list() == ["a.bai2", "b.bai2"]
    assert source.fetch("a.bai2") == b"01,one"
    source.archive("a.bai2")
    assert source.list() == ["b.bai2"]
    assert (inbox / "processed" / "a.bai2").read_bytes() == b"01,one"
    source.put("a.bai2", b"01,again")
    source.archive("a.bai2")  # same name delivered twice: the first copy is kept
    assert (inbox / "processed" / "a.bai2").read_bytes() == b"01,one"
    assert (inbox / "processed" / "a.bai2.1").read_bytes() == b"01,again"
    assert all(result.ok for result in source.check())


def test_quarantine_and_a_move_repeated_after_it_went_through(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "bad.bai2").write_bytes(b"not BAI2")
    (inbox / "good.bai2").write_bytes(b"01,ok")
    source = FolderTransport("op", inbox, "*.bai2", quarantine=tmp_path / "held")
    source.quarantine("bad.bai2")
    source.archive("good.bai2")
    assert source.list() == []
    assert (tmp_path / "held" / "bad.bai2").read_bytes() == b"not BAI2"
    assert (inbox / "processed" / "good.bai2").read_bytes() == b"01,ok"
    # A run that died after the move and before recording it moves the file again: the
    # file has left the inbox, so nothing happens (and nothing is overwritten).
    source.quarantine("bad.bai2")
    source.archive("good.bai2")
    assert [p.name for p in (tmp_path / "held").iterdir()] == ["bad.bai2"]
    assert [p.name for p in (inbox / "processed").iterdir()] == ["good.bai2"]


def test_check_names_a_missing_folder(tmp_path: Path) -> None:
    (result,) = FolderTransport("op", tmp_path / "nowhere").check()
    assert not result.ok
    assert "not found" in result.detail
