"""The suite's clock: ``AGENTWISE_TEST_CLOCK=2026-12-31T23:59:30Z`` runs the tests, and every process they start, from that instant.

``tests/conftest.py`` starts it in ``pytest_configure``, before test modules are imported, and time runs on
from there (time-machine with ``tick=True``). Processes the suite starts (daphne, the Celery worker) are
launched as ``python -m tests.clock <module> <args>``: given ``clock_env()`` at launch, the wrapper starts the
clock where the parent's stands at that moment, then runs the module as ``python -m <module>`` would, so
sessions, signed tokens and Redis presence scores written by one process hold in the others.
PostgreSQL's and Redis's own clocks are not moved: no code or test asks the database for the time
(every timestamp and period is computed in Python), and Redis only counts relative TTLs.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from datetime import UTC, datetime, timedelta

CLOCK = "AGENTWISE_TEST_CLOCK"
# The parent's real time (epoch seconds) when it handed its clock on: the child adds its own start-up delay.
HANDED_AT = "AGENTWISE_TEST_CLOCK_HANDED_AT"


def parse(value: str) -> datetime:
    """An ISO 8601 instant; a value without an offset is UTC."""
    instant = datetime.fromisoformat(value.strip())
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def real_time() -> float:
    """Epoch seconds on the machine's clock, travelling or not."""
    import time_machine

    return time_machine.escape_hatch.time.time() if time_machine.escape_hatch.is_travelling() else time.time()


def start(environ=os.environ):
    """Starts the clock ``environ`` asks for and returns its ``time_machine.travel`` (None: the real clock)."""
    value = environ.get(CLOCK, "").strip()
    if not value:
        return None
    import time_machine

    instant = parse(value)
    if environ.get(HANDED_AT):
        instant += timedelta(seconds=max(0.0, real_time() - float(environ[HANDED_AT])))
    travel = time_machine.travel(instant, tick=True)
    travel.start()
    time.time()  # a ticking travel counts from its first reading: make that now, not after the imports
    return travel


def noon_today() -> datetime:
    """Noon (UTC) of the day the clock shows: twelve hours from either midnight, on whatever date the run is.

    For ``pytest.mark.time_machine(clock.noon_today, tick=True)``: a test that meters per day or month then never
    straddles a period boundary, while its date still follows the run (the 1st, the 31st, February 29).
    """
    return datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def clock_env(ahead: timedelta | None = None) -> dict[str, str]:
    """The variables that make a child process read this process's clock as it stands now (blank: real time),
    or ``ahead`` of it: a worker started "later", for a test that cannot wait (an expired claim)."""
    import time_machine

    if not time_machine.escape_hatch.is_travelling() and not ahead:
        return {CLOCK: "", HANDED_AT: ""}
    return {CLOCK: (datetime.now(UTC) + (ahead or timedelta(0))).isoformat(), HANDED_AT: repr(real_time())}


def command(module: str, *args: str) -> list[str]:
    """``python -m <module> <args>`` (or ``python <script.py> <args>``) on this clock (pass ``clock_env()`` in the child's environment)."""
    return [sys.executable, "-m", "tests.clock", module, *args]


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m tests.clock <module> [args...]")
    start()
    if argv[0] == "-m":  # ``python -m tests.clock -m <module>``: a command written for ``python`` (agentwise.cluster)
        argv = argv[1:]
    module, *args = argv
    sys.argv = [module, *args]
    if module.endswith(".py"):  # a script (``manage.py``), as the Procfile runs some
        runpy.run_path(module, run_name="__main__")
    else:
        runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
