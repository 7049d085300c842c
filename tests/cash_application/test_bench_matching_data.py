"""The benchmark's data set read back from the file its generator process writes: the
same canonical records as loading the world in memory, with equal values shared."""

from __future__ import annotations

from pathlib import Path

from bench.matching_data import CHUNK, generate, load, read, save


def test_a_saved_world_reads_back_as_the_same_records_sharing_equal_values(
    tmp_path: Path,
) -> None:
    world = generate("tiny", 11)
    # More invoices than one chunk, so the reader stitches chunks together.
    world.invoices *= CHUNK // len(world.invoices) + 1
    assert len(world.invoices) > CHUNK
    expected = load(world)
    path = tmp_path / "world.pickle"
    save(world, path)
    header, loaded = read(path)
    assert loaded == expected
    assert header.invoices == []
    assert header.payments == world.payments
    assert header.truth == world.truth
    assert [i.status for i in loaded.invoices[: loaded.open_count]] == ["open"] * (
        loaded.open_count
    )
    by_value: dict[object, object] = {}
    for invoice in loaded.invoices:
        for value in (invoice.due_date, invoice.customer_id, invoice.currency):
            assert by_value.setdefault(value, value) is value  # one object per value
        if invoice.total == invoice.open_amount:
            assert invoice.total is invoice.open_amount
