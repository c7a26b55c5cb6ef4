"""Tests for the progress lines of long command-line work, with a fake clock and a StringIO (no sleeping)."""

from __future__ import annotations

import io
import threading

import pytest

from minimization_pipeline.progress import ENV, Progress, elapsed_log, heartbeat, progress_enabled


class FakeClock:
    """Seconds that move only when the test says so."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make(total: int | None = 1_000, **kwargs: object) -> tuple[Progress, FakeClock, io.StringIO]:
    clock, stream = FakeClock(), io.StringIO()
    options = {"interval": 2.0, "enabled": True, **kwargs}
    return Progress("app.users", total, stream=stream, clock=clock, **options), clock, stream  # type: ignore[arg-type]


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_lines_are_throttled_to_the_interval() -> None:
    progress, clock, stream = make()
    for _ in range(8):  # eight chunks within the first interval: nothing printed
        clock.now += 0.125
        progress.advance(10)
    assert lines(stream) == []
    clock.now += 1.0  # 2.0 s since the start
    progress.advance(10)
    assert len(lines(stream)) == 1
    clock.now += 1.875  # not yet 2 s since that line
    progress.advance(10)
    assert len(lines(stream)) == 1
    clock.now += 0.125
    progress.advance(10)
    assert len(lines(stream)) == 2
    assert lines(stream)[-1].startswith("app.users: 110 / 1,000 rows (11%)")


def test_status_line_has_done_total_percent_rate_elapsed_and_eta() -> None:
    progress, clock, stream = make(total=1_000)
    clock.now += 2.0
    progress.advance(250)
    assert lines(stream) == ["app.users: 250 / 1,000 rows (25%), 125 rows/s, 2.0 s elapsed, ETA 6.0 s"]


def test_approximate_total_and_unknown_total() -> None:
    estimated, clock, stream = make(total=10_000, approximate=True)
    clock.now += 4.0
    estimated.update(5_000)
    assert lines(stream) == ["app.users: 5,000 / ~10,000 rows (50%), 1,250 rows/s, 4.0 s elapsed, ETA 4.0 s"]
    unknown, clock, stream = make(total=None)
    clock.now += 2.0
    unknown.update(3_000)
    assert lines(stream) == ["app.users: 3,000 rows, 1,500 rows/s, 2.0 s elapsed"]


def test_update_never_goes_backwards() -> None:
    progress, _, _ = make()
    progress.update(600)
    progress.update(400)  # a rough estimate that dips
    assert progress.done == 600


def test_final_line_with_the_real_count_and_rate() -> None:
    progress, clock, stream = make(total=1_000_000, approximate=True)
    clock.now += 4.0
    progress.finish(1_000_004)
    assert lines(stream) == ["app.users: 1,000,004 rows in 4.0 s (250,001 rows/s)"]
    clock.now += 10.0
    progress.finish(5)  # once only
    progress.advance(5)  # and nothing after it
    assert len(lines(stream)) == 1


def test_context_manager_prints_the_final_line_on_success_only() -> None:
    progress, clock, stream = make(total=100)
    with progress:
        clock.now += 1.0
        progress.advance(100)
    assert lines(stream) == ["app.users: 100 rows in 1.0 s (100 rows/s)"]
    failing, clock, stream = make(total=100)
    with pytest.raises(RuntimeError), failing:
        raise RuntimeError("boom")
    assert lines(stream) == []


def test_a_step_without_rows_says_running_and_done() -> None:
    progress, clock, stream = make(total=None)
    clock.now += 12.0
    progress.tick()
    progress.finish()
    assert lines(stream) == ["app.users: running, 12.0 s elapsed", "app.users: done in 12.0 s"]


def test_disabled_prints_nothing() -> None:
    progress, clock, stream = make(enabled=False)
    with progress:
        clock.now += 5.0
        progress.advance(500)
        with progress.watch(lambda: 900):
            pass
    assert stream.getvalue() == ""
    assert progress.done == 500  # it still counts


def test_environment_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert progress_enabled({})
    for off in ("0", "false", "No", " off "):
        assert not progress_enabled({ENV: off})
    assert progress_enabled({ENV: "1"})
    monkeypatch.setenv(ENV, "0")
    stream = io.StringIO()
    with Progress("quiet", 10, stream=stream) as progress:
        progress.advance(10)
    assert stream.getvalue() == ""


def test_write_callback_gets_whole_lines() -> None:
    got: list[str] = []
    clock = FakeClock()
    with Progress("step", 3, write=got.append, clock=clock, enabled=True) as progress:
        progress.advance(3)
        clock.now += 3.0
    assert got == ["step: 3 rows in 3.0 s (1 rows/s)"]


def test_watch_reports_what_the_poll_says_from_a_thread() -> None:
    """The watcher thread calls the poll and reports; a poll that raises is dropped without breaking the body."""
    progress, clock, stream = make(total=1_000, interval=0.0)
    polled = threading.Event()

    def poll() -> float:
        clock.now += 1.0
        polled.set()
        return 400.0

    with progress.watch(poll, every=0.001):
        assert polled.wait(5)
    assert progress.done == 400
    assert "app.users: 400 / 1,000 rows (40%)" in stream.getvalue()

    def broken() -> float:
        raise RuntimeError("connection closed")

    lines_after: list[str] = []
    ticked = threading.Event()

    def write(line: str) -> None:
        lines_after.append(line)
        ticked.set()

    survivor = Progress("app.events", 10, interval=0.0, write=write, enabled=True)
    with survivor.watch(broken, every=0.001):
        assert ticked.wait(5)  # the watcher kept going after the poll raised
    assert lines_after[0].startswith("app.events: 0 / 10 rows (0%)")


def test_heartbeat_and_elapsed_log() -> None:
    got: list[str] = []
    arrived = threading.Event()

    def write(line: str) -> None:
        got.append(line)
        arrived.set()

    with heartbeat("peer anonypy at k=10", interval=0.001, write=write, enabled=True) as beat:
        assert arrived.wait(5)
    assert not beat.finished  # a heartbeat leaves the final word to the caller
    assert got[0].startswith("peer anonypy at k=10: running, ") and got[0].endswith(" s elapsed")
    clock, stream = FakeClock(), io.StringIO()
    log = elapsed_log(stream, clock)
    clock.now += 63.24
    log("scale: 1,000,000 users ...")
    assert stream.getvalue() == "[   63.2 s] scale: 1,000,000 users ...\n"
