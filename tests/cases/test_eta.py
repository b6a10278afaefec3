"""The ETA from a surveyor's last fixes (cases/eta.py, pure): distance to the scene over the
speed between the last two fixes, or the zone's default speed when they give none."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cases.eta import DEFAULT_SPEED_KMH, Fix, eta, speed_between
from cases.geo import distance_m
from tests.factories import at

SCENE = (31.2304, 121.4737)
METRES_PER_DEGREE_LAT = distance_m(0, 0, 1, 0)


def north(metres: float, when) -> Fix:
    """A fix `metres` due north of the scene."""
    return Fix(SCENE[0] + metres / METRES_PER_DEGREE_LAT, SCENE[1], when)


def test_speed_from_the_last_two_fixes():
    # 2 km in 5 min: 24 km/h; 4 km left: 10 min after the last fix.
    fixes = [north(6000, at(5)), north(4000, at(10))]
    found = eta(fixes, *SCENE, "city", now=at(10))
    assert found is not None
    assert found.speed_from == "fixes"
    assert found.speed_kmh == pytest.approx(24, abs=0.1)
    assert found.distance_m == pytest.approx(4000, abs=1)
    assert found.at - at(10) == pytest.approx(timedelta(minutes=10), abs=timedelta(seconds=2))
    assert found.seconds == pytest.approx(600, abs=2)
    assert found.fix_at == at(10)


def test_only_the_last_two_count_whatever_order_they_come_in():
    fixes = [north(4000, at(10)), north(9000, at(0)), north(6000, at(5))]
    found = eta(fixes, *SCENE, "city", now=at(12))
    assert found is not None and found.speed_kmh == pytest.approx(24, abs=0.1)
    assert found.seconds == pytest.approx(480, abs=2)  # 2 min of the 10 already gone


@pytest.mark.parametrize("zone", ["city", "suburban"])
def test_one_fix_or_standing_still_takes_the_zones_default_speed(zone):
    kmh = DEFAULT_SPEED_KMH[zone]
    for fixes in ([north(5000, at(0))], [north(5000, at(-3)), north(5000, at(0))]):
        found = eta(fixes, *SCENE, zone, now=at(0))
        assert found is not None and found.speed_from == "default"
        assert found.speed_kmh == kmh
        assert found.seconds == pytest.approx(5000 / (kmh / 3.6), abs=2)


def test_a_gps_jump_is_no_speed():
    assert speed_between(north(0, at(0)), north(20_000, at(1))) is None  # 1,200 km/h
    assert speed_between(north(0, at(1)), north(1000, at(1))) is None  # no time between
    assert speed_between(north(0, at(0)), north(1000, at(2))) == pytest.approx(30, abs=0.1)


def test_an_old_fix_is_expected_by_now_and_no_fix_is_no_eta():
    found = eta([north(1000, at(0))], *SCENE, "city", now=at(60))
    assert found is not None and found.seconds == 0 and found.at < at(60)
    assert eta([], *SCENE, "city", now=at(0)) is None
