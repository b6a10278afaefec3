"""The desk's side of the claim workflow, played against the server while the tablets work:
re-dispatches and handovers (the other surveyor's tablet then plays its leg), delegations of
out-of-town cases, the reviewer's returns and approvals, and closes. Every act happens at
the server's instant; the truth takes it from the server's answer to the act, and checks
that instant against the simulator's own clock around the request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from simulator.plan import CasePlan
from simulator.tablet import Env, Tablet, until
from simulator.truth import CaseTruth, LegTruth

WAIT_REAL_S = 120.0  # longest real wait for packets to be stored before an act gives up
SIGNAL_BACK_S = 6 * 3600  # simulated: no tablet is without signal this long
DAY_S = 24 * 3600
# The server's instant of an act lies within the request by the simulator's clock, give or
# take what two processes' reads of one compressed clock may differ by (a pre-emption while
# either read the wall clock): 1 s, or 20 ms of real time at the run's speed.
CLOCK_SLACK_S = 1.0
CLOCK_SLACK_REAL_S = 0.02


def _count_at_least(leg: LegTruth, n: int) -> Callable[[], bool]:
    return lambda: len(leg.events) >= n


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Desk:
    def __init__(self, env: Env, tablets: list[Tablet], reviewer: dict[str, str] | None):
        self.env = env
        self.tablets = tablets
        self.reviewer = reviewer  # None: no reviewer (a --users file without one)
        self.tasks: list[asyncio.Task] = []

    def owe(self, cases: list[CasePlan]) -> None:
        """Tell each tablet how many legs of other cases it will be handed."""
        for case in cases:
            for device in self._owed(case):
                self.tablets[device].owed += 1

    def _owed(self, case: CasePlan) -> list[int]:
        owed = []
        previous = case.device
        for leg in case.acts.legs:
            owed.append(leg.device)
            if leg.previous_steps:
                owed.append(previous)
            previous = leg.device
        if case.acts.resubmit is not None and self.reviewer is not None:
            owed.append(case.acts.holder(case.device))
        return owed

    def follow(self, case: CasePlan, truth: CaseTruth) -> None:
        """The case is dispatched to its tablet: play the desk's acts on it."""
        self.tasks.append(asyncio.create_task(self._follow(case, truth)))

    async def settle(self) -> None:
        while self.tasks:
            await self.tasks.pop()

    async def _follow(self, case: CasePlan, truth: CaseTruth) -> None:
        owed = self._owed(case)
        try:
            await self._acts(case, truth, owed)
        except Exception as exc:  # an answer not as the contract says: a failure reported
            self.env.ledger.act_errors[f"desk: {type(exc).__name__}"] += 1
            self.env.ledger.note(f"the desk's acts on {case.case_no}: {exc!r}"[:300])
        finally:
            for device in owed:  # legs never handed (a refused act) are owed no longer
                self.tablets[device].owed -= 1

    async def _acts(self, case: CasePlan, truth: CaseTruth, owed: list[int]) -> None:
        env, acts = self.env, case.acts
        assert truth.dispatched_at is not None
        if acts.delegate_after_s is not None:
            await env.sleep_until(truth.dispatched_at + timedelta(seconds=acts.delegate_after_s))
            answer = await self._act("delegate", truth, {"to": "simulated branch, Suzhou"})
            if answer is not None:
                truth.delegated_at = _when(answer["updated_at"])
        for number, leg in enumerate(acts.legs, 1):
            if leg.purpose == "scene":
                at = truth.dispatched_at + timedelta(seconds=leg.after_s)
            else:  # hand over what the desk has seen surveyed
                before = truth.legs[number - 1]
                planned = len(case.steps if number == 1 else acts.legs[number - 2].steps)
                if not await self._stored(before, _count_at_least(before, planned)):
                    return
                at = env.clock.now() + timedelta(seconds=leg.after_s)
            await env.sleep_until(at)
            tablet = self.tablets[leg.device]
            body = {"surveyor": tablet.plan.name, "purpose": leg.purpose}
            answer = await self._act("dispatch", truth, body, f"dispatch ({leg.purpose})")
            if answer is None:
                return
            dispatched = _when(answer["dispatches"][-1]["dispatched_at"])
            truth.legs[number].dispatched_at = dispatched
            owed.remove(leg.device)
            self.tasks.append(
                asyncio.create_task(tablet.play_leg(case, truth, leg.steps, dispatched))
            )
            if leg.previous_steps:  # the surveyor it was taken from has not heard yet
                was = self.tablets[truth.legs[number - 1].device]
                owed.remove(was.plan.index)
                self.tasks.append(
                    asyncio.create_task(was.play_leg(case, truth, leg.previous_steps, dispatched))
                )
        if acts.review_after_s is None or self.reviewer is None:
            return
        holder = truth.legs[-1]
        if not await self._stored(holder, lambda: bool(holder.all("estimate_submitted"))):
            return
        await env.sleep_until(env.clock.now() + timedelta(seconds=acts.review_after_s))
        if acts.resubmit is not None:
            returned = await self._review(truth, "returned")
            if returned is None:
                return
            device = acts.holder(case.device)
            owed.remove(device)
            self.tasks.append(
                asyncio.create_task(
                    self.tablets[device].play_leg(case, truth, [acts.resubmit], returned)
                )
            )
            if not await self._stored(holder, lambda: len(holder.all("estimate_submitted")) > 1):
                return
            await env.sleep_until(env.clock.now() + timedelta(seconds=acts.approve_after_s))
        if await self._review(truth, "approved") is None or acts.close_after_s is None:
            return
        await env.sleep_until(env.clock.now() + timedelta(seconds=acts.close_after_s))
        answer = await self._act("close", truth, {})
        if answer is not None:
            truth.closed_at = _when(answer["updated_at"])

    async def _stored(self, leg: LegTruth, recorded: Callable[[], bool] = lambda: True) -> bool:
        """Wait until `recorded()` holds (the tablet records it in its time) and then until
        every packet of the leg is settled (a tablet without signal flushes later)."""
        ledger, speed = self.env.ledger, self.env.opts.speed
        patience = max(WAIT_REAL_S, SIGNAL_BACK_S / speed)

        def settled() -> bool:
            return all(
                e.packet_id in ledger.push_rtt or e.packet_id in ledger.rejected for e in leg.events
            )

        # A leg is planned to end within a day of its dispatch.
        if await until(recorded, timeout_s=patience + DAY_S / speed) and await until(
            settled, timeout_s=patience
        ):
            return True
        ledger.note("the desk gave up waiting for a case's packets to be recorded and stored")
        ledger.act_errors["packets never stored"] += 1
        return False

    async def _review(self, truth: CaseTruth, decision: str) -> datetime | None:
        body: dict = {"decision": decision}
        if decision == "returned":
            body.update(reason="the rear lamp is not on the photos", requested=["damage"])
        for _ in range(50):  # 409 until the server has the estimate: wait and look again
            answer = await self._act("review", truth, body, f"review ({decision})", retry=True)
            if answer is not None:
                at = _when(answer["review"]["reviewed_at"])
                truth.reviews.append((decision, at))
                return at
            await self.env.sleep_until(self.env.clock.now() + timedelta(seconds=60))
        self.env.ledger.act_errors[f"review ({decision}): 409 for ever"] += 1
        return None

    async def _act(
        self, path: str, truth: CaseTruth, body: dict, kind: str = "", *, retry: bool = False
    ) -> dict | None:
        env, ledger = self.env, self.env.ledger
        kind = kind or path
        headers = self.reviewer if path == "review" else env.dispatcher
        assert headers is not None
        before = env.clock.now()
        started = time.perf_counter()
        try:
            answer = await env.http.post(
                f"/v1/cases/{truth.case_id}/{path}", json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            ledger.act_errors[f"{kind}: {type(exc).__name__}"] += 1
            return None
        ledger.took(kind, time.perf_counter() - started)
        after = env.clock.now()
        if answer.status_code != 200:
            if not (retry and answer.status_code == 409):
                ledger.act_errors[f"{kind}: {answer.status_code}"] += 1
                ledger.note(f"{kind}: {answer.status_code} {answer.text[:200]}")
            return None
        ledger.acts[kind] += 1
        data = answer.json()
        stamp = data.get("updated_at") or data["review"]["reviewed_at"]
        slack = timedelta(seconds=max(CLOCK_SLACK_S, CLOCK_SLACK_REAL_S * env.opts.speed))
        if not before - slack <= _when(stamp) <= after + slack:
            ledger.note(f"{kind}: the server's instant {stamp} is outside the request")
            ledger.act_errors[f"{kind}: instant outside the request"] += 1
        return data
