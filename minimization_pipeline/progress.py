"""Progress lines for long command-line work: demo generation and the benchmarks behind ``make bench``.

Why it is built this way:

* Plain, throttled lines on stderr (at most one per ``interval``, plus one final line) rather than a redrawn
  bar: the output of ``make bench`` interleaves several subprocesses and often ends up in a log file, where
  carriage-return bars turn into noise. stdout stays free for the tables and counts the commands print.
* Callers report at chunk boundaries (``advance``/``update``); a call between lines costs a clock read and a
  comparison, so it never slows the work. Work that is one long blocking call (a DuckDB statement, a
  subprocess) is covered by :meth:`Progress.watch`, a daemon thread that polls an estimate or just says the
  step is still running.
* The clock and the output are injected, so tests check throttling and rates exactly without sleeping.
* ``MINIMIZATION_PROGRESS=0`` silences every progress line (not the commands' own output); library callers
  that want silence pass ``enabled=False`` or no progress factory at all.
* Pure Python, no Dagster or DuckDB import: the generator and the benchmark harness both use it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import TextIO

ENV = "MINIMIZATION_PROGRESS"
DEFAULT_INTERVAL_S = 2.0
#: How often :meth:`Progress.watch` polls an estimate; lines are still throttled to the interval.
POLL_S = 0.5

Clock = Callable[[], float]
Write = Callable[[str], None]


def progress_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """False when ``MINIMIZATION_PROGRESS`` is 0/false/no/off (e.g. in CI logs that should stay short)."""
    value = (os.environ if environ is None else environ).get(ENV, "1").strip().lower()
    return value not in {"0", "false", "no", "off"}


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 100 else f"{value:,.0f} s"


class Progress:
    """Rows done (or just "still running") for one labelled piece of work, printed as throttled lines.

    ``total`` may be None (unknown) or an estimate (``approximate=True``, shown as ``~N``); ``finish(done)``
    then reports the exact figure. Use as a context manager to get the final line on success.
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        unit: str = "rows",
        approximate: bool = False,
        interval: float = DEFAULT_INTERVAL_S,
        stream: TextIO | None = None,
        write: Write | None = None,
        clock: Clock = time.monotonic,
        enabled: bool | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.approximate = approximate
        self.interval = interval
        self.enabled = progress_enabled() if enabled is None else enabled
        self.done = 0
        self.finished = False
        self._stream = stream
        self._write = write
        self._clock = clock
        self._lock = threading.Lock()  # watch() reports from a second thread
        self.started = clock()
        self._last_line = self.started

    # ------------------------------------------------------------------------------------------ reporting

    def advance(self, n: int = 1) -> None:
        """``n`` more rows done (call per chunk, not per row)."""
        self.update(self.done + n)

    def update(self, done: float) -> None:
        """Rows done so far; an estimate that goes backwards is ignored, so the count never drops."""
        with self._lock:
            self.done = max(self.done, int(done))
        self.tick()

    def tick(self) -> None:
        """Print a status line if ``interval`` has passed since the last one."""
        if not self.enabled or self.finished:
            return
        with self._lock:
            now = self._clock()
            if now - self._last_line < self.interval:
                return
            self._last_line = now
            line = self.status_line(now)
        self._emit(line)

    def finish(self, done: int | None = None) -> None:
        """The final line (once): rows, seconds and rate; ``done`` replaces an estimate with the real count."""
        with self._lock:
            if self.finished:
                return
            self.finished = True
            if done is not None:
                self.done = int(done)
            line = self.final_line(self._clock())
        if self.enabled:
            self._emit(line)

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.finish()

    @contextmanager
    def watch(self, poll: Callable[[], float | None] | None = None, every: float = POLL_S) -> Iterator[Progress]:
        """Keep reporting from a daemon thread while the body blocks (a long SQL statement, a subprocess).

        ``poll`` returns rows done so far (or None: nothing to say); without it the lines just say the step
        is still running. A poll that raises is dropped: progress must never break the work it watches.
        The thread sleeps between polls, so the cost to a timed body is negligible.
        """
        if not self.enabled:
            yield self
            return
        stop = threading.Event()
        wait = every if poll is not None else self.interval

        def loop() -> None:
            source = poll
            while not stop.wait(wait):
                value = None
                if source is not None:
                    try:
                        value = source()
                    except Exception:
                        source = None
                if value is None:
                    self.tick()
                else:
                    self.update(value)

        thread = threading.Thread(target=loop, name=f"progress {self.label}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()

    # ------------------------------------------------------------------------------------------ lines

    def status_line(self, now: float) -> str:
        elapsed = now - self.started
        if self.done == 0 and self.total is None:
            return f"{self.label}: running, {_seconds(elapsed)} elapsed"
        rate = self.done / elapsed if elapsed > 0 else 0.0
        parts = [f"{self.label}: {self.done:,}"]
        if self.total:
            parts.append(f" / {'~' if self.approximate else ''}{self.total:,} {self.unit}")
            parts.append(f" ({min(100, int(100 * self.done / self.total))}%)")
        else:
            parts.append(f" {self.unit}")
        parts.append(f", {rate:,.0f} {self.unit}/s, {_seconds(elapsed)} elapsed")
        if self.total and rate > 0:
            parts.append(f", ETA {_seconds(max(0.0, self.total - self.done) / rate)}")
        return "".join(parts)

    def final_line(self, now: float) -> str:
        elapsed = now - self.started
        if self.done == 0 and self.total is None:
            return f"{self.label}: done in {_seconds(elapsed)}"
        line = f"{self.label}: {self.done:,} {self.unit} in {_seconds(elapsed)}"
        if elapsed > 0:
            line += f" ({self.done / elapsed:,.0f} {self.unit}/s)"
        return line

    def _emit(self, line: str) -> None:
        if self._write is not None:
            self._write(line)
        else:
            print(line, file=self._stream or sys.stderr, flush=True)


def heartbeat(
    label: str, interval: float = 10.0, write: Write | None = None, enabled: bool | None = None
) -> AbstractContextManager[Progress]:
    """A line every ``interval`` while a long step with no row count runs ("label: running, 20.0 s elapsed")."""
    return Progress(label, interval=interval, write=write, enabled=enabled).watch()


def elapsed_log(stream: TextIO | None = None, clock: Clock = time.monotonic) -> Write:
    """A log function that prefixes each line with the seconds since it was made, for multi-step runs."""
    started = clock()

    def log(message: str) -> None:
        print(f"[{clock() - started:7.1f} s] {message}", file=stream or sys.stderr, flush=True)

    return log
