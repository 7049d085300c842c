"""The scheduler's timing rules, on a clock the test controls, and a real process
stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sync_jobs.config import parse_config
from sync_jobs.schedule import next_fire, run_scheduler

CONFIG = """
[books.main]
kind = "files"
path = "books"
[jobs.hourly]
books = "main"
schedule = "0 * * * *"
[jobs.morning]
books = "main"
schedule = "30 7 * * 1-5"
timezone = "America/New_York"
[jobs.manual]
books = "main"
"""


def test_next_fire_honours_the_time_zone_and_daylight_saving() -> None:
    # 2026-11-02 is a Monday; New York is UTC-5 after the 2026-11-01 change.
    after = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    assert next_fire("30 7 * * 1-5", "America/New_York", after) == datetime(
        2026, 11, 2, 12, 30, tzinfo=UTC
    )
    # The Friday before, still on daylight time (UTC-4).
    friday = datetime(2026, 10, 30, 0, 0, tzinfo=UTC)
    assert next_fire("30 7 * * 1-5", "America/New_York", friday) == datetime(
        2026, 10, 30, 11, 30, tzinfo=UTC
    )


def test_bad_schedule_and_time_zone_are_config_problems(tmp_path: Path) -> None:
    from sync_jobs.config import ConfigError

    text = '[books.m]\nkind="files"\npath="b"\n[jobs.j]\nbooks="m"\nschedule="61 * * *"\n'
    text += 'timezone="Mars/Olympus"\n'
    try:
        parse_config(text, file=tmp_path / "c.toml")
    except ConfigError as exc:
        paths = {problem.path for problem in exc.problems}
    assert paths == {"jobs.j.schedule", "jobs.j.timezone"}


class FakeClock:
    """A clock that moves only when the scheduler waits or a job runs."""

    def __init__(self, start: datetime, stop_after: datetime) -> None:
        self.now = start
        self.stop_after = stop_after
        self.runs: list[tuple[str, datetime]] = []

    def wait(self, seconds: float) -> bool:
        self.now += timedelta(seconds=seconds)
        return self.now >= self.stop_after

    def run(self, job: str, duration: timedelta = timedelta(minutes=1)) -> None:
        self.runs.append((job, self.now))
        self.now += duration


def test_runs_each_job_at_its_times_and_only_scheduled_jobs(tmp_path: Path) -> None:
    config = parse_config(CONFIG, file=tmp_path / "c.toml").config
    start = datetime(2026, 11, 2, 5, 50, tzinfo=UTC)  # Monday
    clock = FakeClock(start, stop_after=datetime(2026, 11, 2, 13, 0, tzinfo=UTC))
    lines: list[str] = []
    run_scheduler(
        config, now=lambda: clock.now, wait=clock.wait, run=clock.run, report=lines.append
    )
    hourly = [at.hour for job, at in clock.runs if job == "hourly"]
    assert hourly == [6, 7, 8, 9, 10, 11, 12]
    assert [at for job, at in clock.runs if job == "morning"] == [
        datetime(2026, 11, 2, 12, 30, tzinfo=UTC)
    ]
    assert all(job != "manual" for job, _ in clock.runs)


def test_a_long_run_is_followed_by_one_run_not_one_per_missed_slot(tmp_path: Path) -> None:
    config = parse_config(
        '[books.m]\nkind="files"\npath="b"\n[jobs.fast]\nbooks="m"\nschedule="*/5 * * * *"\n',
        file=tmp_path / "c.toml",
    ).config
    start = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
    clock = FakeClock(start, stop_after=start + timedelta(minutes=60))
    durations = iter([timedelta(minutes=22)] + [timedelta(minutes=1)] * 20)
    run_scheduler(
        config,
        now=lambda: clock.now,
        wait=clock.wait,
        run=lambda job: clock.run(job, next(durations)),
        report=lambda line: None,
    )
    minutes = [at.minute for _, at in clock.runs]
    # 06:05 ran until 06:27; 06:10..06:25 are skipped; the next run is at 06:30.
    assert minutes[:3] == [5, 30, 35]


def test_sigterm_stops_the_scheduler_cleanly(tmp_path: Path) -> None:
    (tmp_path / "books").mkdir()
    (tmp_path / "config.toml").write_text(
        'var_dir = "var"\n[books.m]\nkind="files"\npath="books"\n'
        '[jobs.nightly]\nbooks="m"\nschedule="0 3 * * *"\n'
    )
    arlink = Path(sys.executable).with_name("arlink")
    process = subprocess.Popen(
        [str(arlink), "--config", str(tmp_path / "config.toml"), "schedule"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    first = process.stderr.readline()
    assert "nightly: next run" in first
    started = time.monotonic()
    os.kill(process.pid, signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    assert "stopping" in process.stderr.read()
