"""The Pacer on its own, with explicit times: a 429 gate per method, a pace per conversation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from launchops.delivery.pacing import Admitted, Deferred, Pacer
from launchops.delivery.sender import Limit, Route

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POST = {"chat.postMessage": Limit(per_second=1.0, burst=3)}


def _post(conversation: str) -> Route:
    return Route(conversation, ("chat.postMessage",))


def test_a_burst_into_one_channel_is_spread_out_then_handed_back() -> None:
    pacer = Pacer(max_wait=1.0)
    waits = [pacer.admit("slack", _post("channel:C1"), POST, NOW) for _ in range(5)]

    # Three at once (the burst), the fourth a second later, the fifth would wait two: back.
    assert waits[:4] == [Admitted(0.0), Admitted(0.0), Admitted(0.0), Admitted(1.0)]
    assert isinstance(waits[4], Deferred)
    assert waits[4].until == NOW + timedelta(seconds=2)
    assert "chat.postMessage" in waits[4].reason
    # A deferred row reserved nothing: once its time comes it is admitted at once.
    later = NOW + timedelta(seconds=2)
    assert pacer.admit("slack", _post("channel:C1"), POST, later) == Admitted(0.0)


def test_a_fan_out_of_direct_messages_is_not_paced() -> None:
    pacer = Pacer()
    admitted = [pacer.admit("slack", _post(f"user:U{n}"), POST, NOW) for n in range(200)]
    assert admitted == [Admitted(0.0)] * 200


def test_a_gate_holds_back_every_row_of_its_method_and_only_those() -> None:
    pacer = Pacer()
    pacer.hold("slack", "chat.postMessage", NOW + timedelta(seconds=30))
    pacer.hold("slack", "chat.postMessage", NOW + timedelta(seconds=5))  # never shortened

    held = pacer.admit("slack", _post("user:U1"), POST, NOW)
    assert held == Deferred(
        NOW + timedelta(seconds=30), "held back: chat.postMessage is rate limited"
    )
    edit = Route("channel:C1", ("chat.update",))
    assert pacer.admit("slack", edit, POST, NOW) == Admitted(0.0)
    assert pacer.admit("teams", _post("user:U1"), POST, NOW) == Admitted(0.0)  # other platform
    assert pacer.admit("slack", _post("user:U1"), POST, NOW + timedelta(seconds=30)) == Admitted(
        0.0
    )
