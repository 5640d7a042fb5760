"""Shared-identity counts and taint fall as well as rise (docs/features.md "Shared identity and
taint"): a registry move, a hold's end and time all take back what they once added."""

from __future__ import annotations

import math

import pytest
from replay_run import OfflineRun

from features import engine, holds
from features.network import TAINT_WINDOW_MS
from features.signals import HoldAppealed
from features.windows import DAY_MS, HOUR_MS
from streams.contracts import RegistryLink

T0 = 1_793_491_200_000


class World(OfflineRun):
    """Registry records, transfers, holds and appeals through the offline engine."""

    def register(self, account: str, ts_ms: int, phone: str | None = None, device: str | None = None) -> None:
        self.replayer.feed(RegistryLink("KTB", account, T0 - 400 * DAY_MS, ts_ms, phone, None, device))

    def state(self, account: str):  # noqa: ANN201
        return self.replayer.accounts[f"KTB:{account}"]

    def hold(self, account: str, ts_ms: int) -> None:
        """A model hold of 3 days, as the worker opens one."""
        key, state = f"KTB:{account}", self.state(account)
        until = ts_ms + 3 * DAY_MS
        self.replayer.settle(engine.hold(state, key, ts_ms, ts_ms, until))
        holds.open_row(state, holds.Hold(f"rq-{account}", "", "model", "bank_suspicion_3d", "requested", 0, 0,
                                         0, -1, ts_ms, until, 0, f"t-{account}"))

    def appeal_approved(self, account: str, ts_ms: int) -> None:
        key, state = f"KTB:{account}", self.state(account)
        signal = HoldAppealed(ts_ms, ts_ms, f"ap-{account}", f"rq-{account}", "approved", "bank officer", None)
        self.replayer.settle(holds.on_appeal(state, key, signal, ts_ms).emits)


@pytest.fixture
def world() -> World:
    return World()


def test_an_account_moved_to_another_phone_leaves_the_old_phones_count(world: World) -> None:
    for account in ("a", "b", "c"):
        world.register(account, T0, phone="ph_shared")
    assert [world.state(x).phone_accounts for x in "abc"] == [3, 3, 3]
    world.register("c", T0 + HOUR_MS, phone="ph_own")
    assert [world.state(x).phone_accounts for x in "abc"] == [2, 2, 1]
    world.send("t1", T0 + 2 * HOUR_MS, "a", "z")
    assert world.feature("a", "t1", "accounts_per_phone") == 2


def test_a_held_account_is_not_its_own_held_link_and_its_release_is_told(world: World) -> None:
    world.register("a", T0, phone="ph_shared")
    world.register("b", T0, phone="ph_shared")
    world.hold("a", T0 + HOUR_MS)
    assert (world.state("a").held_identity_links, world.state("b").held_identity_links) == (0, 1)
    world.appeal_approved("a", T0 + 2 * HOUR_MS)
    assert world.state("b").held_identity_links == 0
    world.send("t1", T0 + 3 * HOUR_MS, "b", "z")
    assert world.feature("b", "t1", "held_identity_links") == 0


def test_a_hold_reaches_accounts_sharing_a_device_seen_only_on_transfers(world: World) -> None:
    world.send("t1", T0, "a", "z", device="dev_phone1")
    world.send("t2", T0 + 1, "b", "z", device="dev_phone1")
    world.hold("a", T0 + HOUR_MS)
    assert world.state("b").held_identity_links == 1
    world.send("t3", T0 + 2 * HOUR_MS, "b", "z", device="dev_phone1")
    assert world.feature("b", "t3", "held_identity_links") == 1


def test_taint_lapses_a_week_after_the_money_that_brought_it(world: World) -> None:
    world.send("t0", T0, "h", "p")
    world.hold("h", T0 + HOUR_MS)
    world.send("dirty", T0 + 2 * HOUR_MS, "h", "p")  # the held account pays p
    world.send("soon", T0 + 3 * HOUR_MS, "p", "q")
    assert world.feature("p", "soon", "taint_hops") == 1
    assert world.feature("q", "soon", "taint_hops") == 2
    later = T0 + 2 * HOUR_MS + TAINT_WINDOW_MS
    world.send("later", later, "p", "r")
    assert math.isnan(world.feature("p", "later", "taint_hops"))
    assert math.isnan(world.feature("r", "later", "taint_hops"))
    assert world.feature("r", "later", "tainted_in_thb_24h") == 0


def test_an_account_cleared_on_appeal_stops_tainting_its_payees(world: World) -> None:
    world.send("t0", T0, "a", "p")
    world.hold("a", T0 + HOUR_MS)
    world.appeal_approved("a", T0 + 2 * HOUR_MS)
    world.send("after", T0 + 3 * HOUR_MS, "a", "p")
    assert math.isnan(world.feature("p", "after", "taint_hops"))
    assert world.feature("p", "after", "tainted_in_thb_24h") == 0
