"""The pacing arithmetic: GCRA spacing, AIMD cuts and regrowth, the waiting wrapper."""

from __future__ import annotations

import pytest

from runner.engine.ratelimit import Aimd, Gcra, Pacer


class FakeClock:
    """A clock that jumps to whatever instant the code waits for."""

    def __init__(self) -> None:
        self.t = 100.0
        self.waits: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep_until(self, deadline: float) -> None:
        self.waits.append(deadline)
        self.t = max(self.t, deadline)


def test_gcra_spaces_requests_evenly_without_burst() -> None:
    """Back-to-back reservations at 5/s are 0.2 s apart, starting now."""
    gcra = Gcra(5.0)
    times = [gcra.reserve(10.0) for _ in range(4)]
    assert times == pytest.approx([10.0, 10.2, 10.4, 10.6])


def test_gcra_does_not_bank_idle_time() -> None:
    """After a long idle gap the next two requests are still one interval apart (burst 1)."""
    gcra = Gcra(2.0)
    gcra.reserve(0.0)
    assert gcra.reserve(100.0) == 100.0
    assert gcra.reserve(100.0) == pytest.approx(100.5)


def test_gcra_burst_allows_that_many_back_to_back() -> None:
    """A burst of 3 lets three requests go at once, then paces."""
    gcra = Gcra(1.0, burst=3)
    times = [gcra.reserve(0.0) for _ in range(4)]
    assert times == pytest.approx([0.0, 0.0, 0.0, 1.0])


def test_gcra_delay_does_not_reserve() -> None:
    """`delay` reports the wait without consuming the slot."""
    gcra = Gcra(4.0)
    gcra.reserve(0.0)
    assert gcra.delay(0.0) == pytest.approx(0.25)
    assert gcra.delay(0.0) == pytest.approx(0.25)


def test_aimd_halves_on_throttle_and_regrows_linearly() -> None:
    """A 429 halves the rate; it then grows back to the ceiling over the recovery time."""
    aimd = Aimd(4.0, recovery_s=10.0, floor_fraction=0.0)
    aimd.on_throttled(0.0)
    assert aimd.rate(0.0) == pytest.approx(2.0)
    assert aimd.rate(5.0) == pytest.approx(4.0)
    assert aimd.rate(2.5) == pytest.approx(3.0)
    assert aimd.rate(100.0) == pytest.approx(4.0)


def test_aimd_counts_a_burst_of_429s_as_one_cut() -> None:
    """Several 429s within the cool-down cut the rate once."""
    aimd = Aimd(4.0, cooldown_s=1.0)
    for t in (0.0, 0.1, 0.2):
        aimd.on_throttled(t)
    assert aimd.rate(0.2) == pytest.approx(2.0, rel=0.05)
    aimd.on_throttled(1.5)
    assert aimd.rate(1.5) < 1.5
    assert aimd.throttled == 4


def test_aimd_never_goes_below_floor() -> None:
    """Repeated cuts stop at the floor fraction of the ceiling."""
    aimd = Aimd(5.0, floor_fraction=0.1, cooldown_s=0.0)
    for t in range(20):
        aimd.on_throttled(float(t) * 0.001)
    assert aimd.rate(0.02) >= 0.5


@pytest.mark.anyio
async def test_pacer_waits_on_injected_clock() -> None:
    """The pacer sleeps until each reserved instant of the injected clock."""
    clock = FakeClock()
    pacer = Pacer(2.0, clock=clock)
    for _ in range(3):
        await pacer.wait()
    assert clock.waits == pytest.approx([100.5, 101.0])
    assert pacer.sent == 3


@pytest.mark.anyio
async def test_pacer_honours_retry_after_and_slows_down() -> None:
    """After a 429 with Retry-After 3 s, the next request waits 3 s and the rate is cut."""
    clock = FakeClock()
    pacer = Pacer(4.0, clock=clock, aimd=Aimd(4.0))
    await pacer.wait()
    pacer.throttled(retry_after=3.0)
    assert pacer.rate == pytest.approx(2.0)
    await pacer.wait()
    assert clock.t == pytest.approx(103.0)
    await pacer.wait()
    assert clock.t - 103.0 == pytest.approx(0.5)  # spaced at the cut rate in force at 103 s
