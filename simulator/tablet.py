"""One surveyor's tablet through the day: records events as they truly happen, queues them,
loses signal, flushes late, twice, out of order, with a wrong clock, and sends its photos."""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
import msgspec

from cases.clock import Clock
from simulator.clocks import TabletClock
from simulator.photos import LOCAL, make_jpeg
from simulator.plan import CasePlan, DevicePlan, Options, Photo, Step
from simulator.progress import Progress
from simulator.truth import CaseTruth, Ledger
from simulator.uploads import UploadUnavailable, put_media, tus_media

BATCH = 100
GIVE_UP_ROUNDS = 200  # flush rounds after the day's end before a tablet gives up


@dataclass
class Env:
    """What every tablet shares: the connection, the clock, the desk, the books."""

    http: httpx.AsyncClient
    base_url: str
    clock: Clock
    opts: Options
    day_start: datetime
    dispatcher: dict[str, str]
    ledger: Ledger
    progress: Progress
    flush_every_s: float = 1.0  # real seconds between a connected tablet's flushes
    reused: set[Photo] = field(default_factory=set)  # photos planted on two cases
    shared_photos: dict[Photo, bytes] = field(default_factory=dict)
    # Photos are made on threads of their own, so that slow tus uploads (threads too, as
    # tuspy is blocking) never hold up a tablet's recording of events.
    cameras: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(2))
    # Called once a case is dispatched to its tablet: the desk's acts follow (simulator/desk.py).
    on_dispatch: Callable[[CasePlan, CaseTruth], None] | None = None

    async def sleep_until(self, when: datetime) -> None:
        delay = (when - self.clock.now()).total_seconds() / self.opts.speed
        if delay > 0:
            await asyncio.sleep(delay)


async def until(
    condition: Callable[[], bool], every_s: float = 0.05, timeout_s: float | None = None
) -> bool:
    """Poll: what is waited for changes in other tasks' hands, with no event to wait on.
    False if `timeout_s` (real) passed first."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if deadline is not None and time.monotonic() > deadline:
            return False
        await asyncio.sleep(every_s)


def stamp(when: datetime) -> str:
    return when.astimezone(LOCAL).isoformat(timespec="milliseconds")


class Tablet:
    def __init__(self, plan: DevicePlan, token: str, env: Env, truths: list[CaseTruth]):
        self.plan = plan
        self.env = env
        self.auth = {"Authorization": f"Bearer {token}"}
        self.truths = truths
        self.device_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{plan.name}/{env.opts.seed}"))
        self.rng = random.Random(f"{env.opts.seed}/{plan.index}")
        self.clocks = TabletClock.of(plan, env.day_start, env.opts.seed)
        self.wrong_clock: set[str] = set()  # packets recorded before the clock's correction
        self.seq = 0
        self.queue: list[dict] = []
        self.media: dict[str, tuple[bytes, bool]] = {}  # sha -> (bytes, via tus), not yet sent
        self.finished = False
        self.queued_offline = False
        self.owed = 0  # legs of other surveyors' cases the desk will still hand this tablet

    # -- the day ---------------------------------------------------------------------------

    async def run(self) -> None:
        flusher = asyncio.create_task(self._flush_loop())
        try:
            # Dispatches keep to the plan: a slow server delays one case, not the rest.
            at = self.env.day_start + timedelta(seconds=self.plan.start_s)
            for case in self.plan.cases:
                at += timedelta(seconds=case.gap_before_s)
                truth = self.truths[case.index]
                await self.env.sleep_until(at - timedelta(seconds=case.report_lead_s))
                opened = await self._open(case, truth)
                await self.env.sleep_until(at)
                if not opened or not await self._dispatch(truth):
                    self.env.progress.advance(len(case.steps))
                    continue
                assert truth.dispatched_at is not None
                if self.env.on_dispatch is not None:
                    self.env.on_dispatch(case, truth)
                await self._play(case, truth, case.steps, truth.dispatched_at)
                at += timedelta(seconds=case.duration_s)
            await until(lambda: self.owed <= 0)  # a re-dispatch, handover or return may come
        finally:
            self.finished = True
            await flusher

    async def _play(self, case: CasePlan, truth: CaseTruth, steps: list[Step], start: datetime):
        for step in steps:
            when = start + timedelta(seconds=step.after_s)
            await self.env.sleep_until(when)
            await self._record(case, truth, step, when)
            self.env.progress.advance(1)

    async def play_leg(
        self, case: CasePlan, truth: CaseTruth, steps: list[Step], start: datetime
    ) -> None:
        """Steps of a case handed to this tablet by the desk (see `owed`), from `start`."""
        try:
            await self._play(case, truth, steps, start)
        finally:
            self.owed -= 1

    async def _open(self, case: CasePlan, truth: CaseTruth) -> bool:
        """The desk takes the accident report (it came in a few minutes before)."""
        env = self.env
        body = {
            "case_no": case.case_no,
            "reported_at": stamp(env.clock.now()),
            "location": {"lat": case.lat, "lon": case.lon},
            "address": case.address,
            "zone": case.zone,
            "plate": f"沪A{10000 + case.index}",
            "simple_procedure": case.simple,
        }
        try:
            started = time.perf_counter()
            opened = await env.http.post("/v1/cases", json=body, headers=env.dispatcher)
            env.ledger.took("open case", time.perf_counter() - started)
        except httpx.HTTPError as exc:
            env.ledger.note(f"opening a case: {type(exc).__name__}")
            return False
        if opened.status_code not in (200, 201):
            env.ledger.note(f"POST /v1/cases: {opened.status_code} {opened.text[:200]}")
            return False
        truth.case_id = opened.json()["id"]
        truth.reported_at = datetime.fromisoformat(body["reported_at"])
        return True

    async def _dispatch(self, truth: CaseTruth) -> bool:
        env = self.env
        try:
            started = time.perf_counter()
            sent = await env.http.post(
                f"/v1/cases/{truth.case_id}/dispatch",
                json={"surveyor": self.plan.name},
                headers=env.dispatcher,
            )
            env.ledger.took("dispatch", time.perf_counter() - started)
        except httpx.HTTPError as exc:
            env.ledger.note(f"dispatching a case: {type(exc).__name__}")
            return False
        if sent.status_code != 200:
            env.ledger.note(f"dispatch: {sent.status_code} {sent.text[:200]}")
            return False
        last = sent.json()["dispatches"][-1]["dispatched_at"]
        truth.dispatched_at = datetime.fromisoformat(last.replace("Z", "+00:00"))
        return True

    async def _record(self, case: CasePlan, truth: CaseTruth, step: Step, when: datetime):
        ledger = self.env.ledger
        ledger.max_lag_s = max(ledger.max_lag_s, (self.env.clock.now() - when).total_seconds())
        self.seq += 1
        packet: dict = {
            "packet_id": str(uuid.uuid4()),
            "seq": self.seq,
            "case_id": truth.case_id,
            "kind": step.kind,
            "occurred_at": stamp(self.clocks.wall(when)),
            "data": step.data,
            **self.clocks.reading(when),
        }
        if self.clocks.wrong_at(when):
            self.wrong_clock.add(packet["packet_id"])
        if step.has_fix:
            packet["gps"] = {
                "lat": round(step.lat, 7),
                "lon": round(step.lon, 7),
                "accuracy_m": round(self.rng.uniform(4, 15), 1),
                "fix_time": stamp(when),  # GPS time is true time, whatever the tablet's clock
            }
        if step.photo is not None:
            sha = await self._take_photo(step.photo, when)
            packet["media"] = [sha]
            truth.media[sha] = step.photo.category
            if "reused_photo" in case.planted and step.photo.case_index != case.index:
                truth.reused_sha = sha
            if step.photo.doctor:
                truth.doctored[sha] = step.photo.doctor
        truth.record(step.leg, step.kind, when, step.has_fix, packet["packet_id"])
        if not self._online():
            self.queued_offline = True
        self.queue.append(packet)

    async def _take_photo(self, photo: Photo, when: datetime) -> str:
        data = self.env.shared_photos.get(photo)
        if data is None:
            loop = asyncio.get_running_loop()
            data = await loop.run_in_executor(
                self.env.cameras, make_jpeg, photo, self.clocks.wall(when), when
            )
            if photo in self.env.reused:  # a reused photo must be the very same bytes
                data = self.env.shared_photos.setdefault(photo, data)
        sha = hashlib.sha256(data).hexdigest()
        self.media[sha] = (data, photo.via_tus)
        return sha

    def _online(self) -> bool:
        if self.finished:
            return True
        elapsed = (self.env.clock.now() - self.env.day_start).total_seconds()
        return not any(start <= elapsed < end for start, end in self.plan.offline)

    # -- sending ---------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        rounds_after_end = 0
        while True:
            if self._online():
                await self._flush()
                await self._upload_media()
            if self.finished:
                if not self.queue and not self.media:
                    return
                rounds_after_end += 1
                if rounds_after_end > GIVE_UP_ROUNDS:
                    self.env.ledger.unsent += len(self.queue)
                    self.env.ledger.note(f"{self.plan.name} gave up with {len(self.queue)} queued")
                    return
            await asyncio.sleep(self.env.flush_every_s)

    async def _flush(self) -> None:
        if not self.queue:
            return
        ledger, rng, opts = self.env.ledger, self.rng, self.env.opts
        if self.queued_offline:
            ledger.offline_flushes += 1
            self.queued_offline = False
        batches = [self.queue[i : i + BATCH] for i in range(0, len(self.queue), BATCH)]
        if len(self.queue) >= 2 and rng.random() < opts.reorder:
            first = batches[0]
            half = len(first) // 2
            later = list(first[half:])
            rng.shuffle(later)
            batches[0:1] = [later, first[:half]]  # the later packets arrive first
            ledger.batches_reordered += 1
        for batch in batches:
            outcome = await self._push(batch)
            if outcome is None:
                return
            if rng.random() < opts.duplicates:
                if rng.random() < 0.5:
                    ledger.batches_twice += 1
                    await self._push(batch)  # the response was lost: the tablet sends again
                else:
                    ledger.batches_raced += 1
                    await asyncio.gather(self._push(batch), self._push(batch))

    async def _push(self, batch: list[dict]) -> dict | None:
        env, ledger = self.env, self.env.ledger
        body = {"device_id": self.device_id, "sent_at": "", "packets": batch}
        started = time.perf_counter()
        now = env.clock.now()
        body.update(sent_at=stamp(self.clocks.wall(now)), **self.clocks.reading(now))
        if self.plan.msgpack:
            content = msgspec.msgpack.encode(body)
            kind = "application/msgpack"
        else:
            content, kind = msgspec.json.encode(body), "application/json"
        try:
            response = await env.http.post(
                "/v1/sync/push", content=content, headers={**self.auth, "Content-Type": kind}
            )
        except httpx.HTTPError as exc:
            ledger.push_errors[type(exc).__name__] += 1
            return None
        rtt = time.perf_counter() - started
        ledger.took("push", rtt)
        ledger.pushes += 1
        if response.status_code != 200:
            ledger.push_errors[str(response.status_code)] += 1
            ledger.note(f"push: {response.status_code} {response.text[:200]}")
            return None
        outcome = response.json()
        for result in outcome["results"]:
            ledger.statuses[result["status"]] += 1
            if result["status"] == "accepted":
                ledger.push_rtt.setdefault(result["packet_id"], rtt)
                if result["packet_id"] in self.wrong_clock and not self.clocks.wrong_at(now):
                    ledger.clock_corrected_midqueue += 1  # stamped wrong, sent corrected
            elif result["status"] == "rejected":
                ledger.rejected[result["packet_id"]] = result.get("reason") or ""
        acked = outcome["acked_through"]
        self.queue = [p for p in self.queue if p["seq"] > acked]
        return outcome

    async def _upload_media(self) -> None:
        env, ledger = self.env, self.env.ledger
        for sha, (data, via_tus) in list(self.media.items()):
            if not self._online():
                return
            started = time.perf_counter()
            try:
                if via_tus:
                    ledger.tus_resumed.append(await tus_media(env.base_url, self.auth, sha, data))
                    ledger.took("tus upload (all requests)", time.perf_counter() - started)
                    ledger.media_tus += 1
                else:
                    status = await put_media(env.http, self.auth, sha, data)
                    ledger.took("PUT media", time.perf_counter() - started)
                    if status not in (200, 201):
                        ledger.media_errors[f"PUT {status}"] += 1
                        continue
                    ledger.media_put += 1
            except UploadUnavailable as exc:
                ledger.media_errors[str(exc)] += 1
            except Exception as exc:  # a failed upload is retried at the next flush
                ledger.media_errors[type(exc).__name__] += 1
                if self.finished and ledger.media_errors[type(exc).__name__] > 50:
                    ledger.note(f"upload of {sha[:12]} keeps failing: {exc}")
                    del self.media[sha]
                continue
            del self.media[sha]
