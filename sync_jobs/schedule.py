"""The built-in scheduler: runs the jobs that have a cron `schedule`, in one process.

Missed-run policy: a schedule fires at most once per wake-up. Runs missed while the
scheduler was stopped are not replayed, and a run that overlaps later fire times is
followed by one run at the next fire time after it finished, not one per missed slot
(the jobs are incremental: one run catches up on everything that arrived). Jobs due
at the same moment run one after another in name order. SIGTERM or SIGINT stops the
scheduler after the run in progress finishes; since every run is resumable, a
process killed outright loses nothing either.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from croniter import croniter

from sync_jobs.config import Config


def next_fire(schedule: str, timezone: str, after: datetime) -> datetime:
    """The first time after `after` that the cron `schedule` fires in `timezone`, in UTC."""
    local = after.astimezone(ZoneInfo(timezone))
    fire = croniter(schedule, local).get_next(datetime)
    return fire.astimezone(UTC)


def scheduled_jobs(config: Config) -> dict[str, tuple[str, str]]:
    """Job name -> (cron schedule, time zone), for jobs that have a schedule."""
    return {
        name: (job.schedule, job.timezone)
        for name, job in sorted(config.jobs.items())
        if job.schedule is not None
    }


def run_scheduler(
    config: Config,
    *,
    now: Callable[[], datetime],
    wait: Callable[[float], bool],
    run: Callable[[str], None],
    report: Callable[[str], None],
) -> None:
    """Run scheduled jobs until `wait(seconds)` returns True (asked to stop).

    `wait` sleeps up to `seconds` and says whether a stop was requested; `run(job)`
    runs one job and handles its failure (a failed run never stops the scheduler).
    """
    schedules = scheduled_jobs(config)
    if not schedules:
        report("no job has a schedule: nothing to do")
        return
    started = now()
    due = {name: next_fire(cron, tz, started) for name, (cron, tz) in schedules.items()}
    for name, at in due.items():
        report(f"{name}: next run {at.isoformat()}")
    while True:
        name = min(due, key=lambda job: (due[job], job))
        delay = (due[name] - now()).total_seconds()
        if delay > 0 and wait(delay):
            report("stopping: no run in progress")
            return
        if delay > 0 and now() < due[name]:
            continue  # woke early (clock adjusted): look again
        report(f"{name}: starting scheduled run")
        run(name)
        cron, tz = schedules[name]
        due[name] = next_fire(cron, tz, now())
        report(f"{name}: next run {due[name].isoformat()}")
        if wait(0):
            report("stopping after the run that was in progress")
            return
