"""The per-packet decision alone: no database, only what the store is said to hold."""

from __future__ import annotations

import copy
from dataclasses import dataclass

from sync.decide import (
    CONFLICT,
    HELD,
    UNKNOWN_CASE,
    Decision,
    Held,
    Prior,
    decide,
    decide_batch,
)

DEVICE = "tablet-1"


@dataclass(frozen=True)
class Sent:
    packet_id: str
    seq: int
    case_id: str = "case-1"
    digest: str = "d1"
    refusal: str | None = None


def held(**kwargs) -> Held:
    return Held(DEVICE, known_cases={"case-1", "case-2"}, ever_mine={"case-1"}, **kwargs)


def stored(packet_id: str, seq: int, digest: str = "d1", **prior) -> Held:
    return held(
        by_id={packet_id: Prior(prior.pop("device_id", DEVICE), digest, **prior)},
        by_seq={seq: packet_id},
    )


def test_the_same_packet_again_is_a_duplicate():
    assert decide(Sent("p1", 1), stored("p1", 1, status="accepted")) == Decision("duplicate")


def test_a_rejected_packet_sent_again_gets_the_same_rejection_and_writes_nothing():
    before = stored("p1", 1, status="rejected", reason=UNKNOWN_CASE)
    assert decide(Sent("p1", 1), before) == Decision("rejected", UNKNOWN_CASE)


def test_other_content_under_a_held_packet_id_is_a_conflict_kept_once():
    before = stored("p1", 1, status="accepted")
    assert decide(Sent("p1", 1, digest="d2"), before) == Decision("rejected", CONFLICT, "conflict")


def test_a_held_packet_id_from_another_device_is_a_conflict():
    before = stored("p1", 1, status="accepted", device_id="tablet-2")
    before.by_seq.clear()  # that device's seq, not this one's
    assert decide(Sent("p1", 1), before) == Decision("rejected", CONFLICT, "conflict")


def test_another_packet_under_a_held_seq_is_a_conflict():
    before = stored("p1", 1, status="accepted")
    assert decide(Sent("p2", 1), before) == Decision("rejected", CONFLICT, "conflict")


def test_a_conflict_already_kept_is_rejected_without_writing_it_again():
    before = stored("p1", 1, status="accepted")
    before.conflicts[1] = {"d2"}
    assert decide(Sent("p2", 1, digest="d2"), before) == Decision("rejected", CONFLICT, None)


def test_a_refused_packet_is_logged_as_rejected_with_its_reason():
    reason = "data.x: is a MessagePack bin value, which JSON cannot carry"
    decision = decide(Sent("p1", 1, refusal=reason), held())
    assert decision == Decision("rejected", reason, "log")


def test_a_packet_for_an_unknown_case_is_logged_as_rejected():
    assert decide(Sent("p1", 1, case_id="nope"), held()) == Decision(
        "rejected", UNKNOWN_CASE, "log"
    )


def test_a_packet_for_a_case_never_dispatched_to_the_sender_is_logged_as_held():
    # Issue 12: an irregular report is held (it may join once a dispatch follows), no
    # longer rejected for ever.
    assert decide(Sent("p1", 1, case_id="case-2"), held()) == Decision("held", HELD, "log")


def test_a_new_packet_for_a_case_of_the_sender_is_accepted():
    assert decide(Sent("p1", 1), held()) == Decision("accepted", None, "log")


def test_a_batch_carrying_one_packet_twice_takes_it_once():
    assert decide_batch([Sent("p1", 1), Sent("p1", 1)], held()) == [
        Decision("accepted", None, "log"),
        Decision("duplicate"),
    ]


def test_a_batch_sees_its_own_settled_packets():
    batch = [Sent("p1", 1), Sent("p2", 1), Sent("p2", 1), Sent("p3", 2, case_id="nope")]
    batch.append(Sent("p3", 2, case_id="nope"))
    assert decide_batch(batch, held()) == [
        Decision("accepted", None, "log"),
        Decision("rejected", CONFLICT, "conflict"),
        Decision("rejected", CONFLICT, None),  # the same conflict, kept already
        Decision("rejected", UNKNOWN_CASE, "log"),
        Decision("rejected", UNKNOWN_CASE),  # the same rejection again
    ]


def test_decide_batch_leaves_what_is_held_as_it_was():
    before = stored("p1", 1, status="accepted")
    before.conflicts[1] = {"d9"}
    snapshot = copy.deepcopy(before)
    decide_batch([Sent("p2", 2), Sent("p3", 1), Sent("p4", 3, case_id="nope")], before)
    assert before == snapshot
