"""tests/clock.py, behind AGENTWISE_TEST_CLOCK: instants, and handing the clock on to a child process."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests import clock


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2026-12-31T23:59:30Z", datetime(2026, 12, 31, 23, 59, 30, tzinfo=UTC)),
        ("2028-02-29T23:59:40", datetime(2028, 2, 29, 23, 59, 40, tzinfo=UTC)),  # no offset: UTC
        ("2027-01-01T01:00:05+01:00", datetime(2027, 1, 1, 0, 0, 5, tzinfo=UTC)),
    ],
)
def test_clock_values_are_instants_in_utc(value, expected):
    assert clock.parse(value) == expected


def test_no_clock_means_the_real_one():
    assert clock.start({}) is None and clock.start({clock.CLOCK: " "}) is None


def test_a_child_starts_where_the_parent_clock_stands_plus_its_start_up_delay():
    handed_at = clock.real_time() - 5  # the child started 5 s after its parent handed the clock on
    travel = clock.start({clock.CLOCK: "2027-01-31T23:59:30+00:00", clock.HANDED_AT: repr(handed_at)})
    try:
        now = timezone.now()
    finally:
        travel.stop()
    assert timedelta(seconds=5) <= now - datetime(2027, 1, 31, 23, 59, 30, tzinfo=UTC) < timedelta(seconds=6)


def test_clock_env_hands_on_the_current_instant(time_machine):
    time_machine.move_to(datetime(2027, 2, 28, 23, 59, 40, tzinfo=UTC), tick=False)
    env = clock.clock_env()
    assert clock.parse(env[clock.CLOCK]) == datetime(2027, 2, 28, 23, 59, 40, tzinfo=UTC)
    assert abs(float(env[clock.HANDED_AT]) - clock.real_time()) < 5  # real time, for the child's delay


def test_noon_today_keeps_the_date_and_is_twelve_hours_from_either_midnight(time_machine):
    time_machine.move_to(datetime(2028, 2, 29, 23, 59, 40, tzinfo=UTC), tick=False)
    assert clock.noon_today() == datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
