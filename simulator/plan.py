"""The day, planned before it is played: who gets which case, what they do and after how
long, where tablets lose signal, which anomalies are planted. Times are seconds after the
case's dispatch, so the truth of every event is the server's dispatch time plus its delay."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace

# People's Square, Shanghai: the branch's city centre.
CENTRE = (31.2304, 121.4737)
PHOTO_CATEGORIES = ("scene", "damage", "vin", "plate")
DOCUMENT_CATEGORIES = ("driving_licence", "vehicle_licence", "claim_form", "agreement")
FAR_ARRIVAL_M = 3000  # the planted arrival fix lies this far from the scene


@dataclass(frozen=True)
class Options:
    devices: int = 10
    cases: int = 50
    offline: float = 0.2
    duplicates: float = 0.1
    reorder: float = 0.1
    clock_skew_min: float = 10.0
    # Share of tablets whose clock is far wrong and corrected mid-queue (simulator/clocks.py).
    clock_corrected: float = 0.3
    photos: int = 3
    tus_share: float = 0.3
    no_fix: float = 0.0
    anomalies: int = -1  # of each kind; -1: about 2% of cases, at least one
    seed: int = 7
    speed: float = 360.0
    # The claim workflow (simulator/acts.py): shares of cases, each at least one when above 0.
    redispatch: float = 0.1  # taken from their surveyor mid-way and dispatched to another
    handover: float = 0.05  # large cases handed to another surveyor for the estimate
    out_of_town: float = 0.05  # delegated by the dispatcher after some minutes
    returns: float = 0.1  # estimate returned by the reviewer, resubmitted, then approved
    close: float = 1.0  # of the approved cases, closed by the dispatcher


@dataclass(frozen=True)
class Photo:
    """A JPEG made on demand from this spec alone, so a reused photo is the same bytes."""

    case_index: int
    number: int
    category: str
    lat: float
    lon: float
    via_tus: bool
    # A doctored photo (simulator/photos.py): "recoded" (this spec's picture resized and
    # re-encoded, fresh EXIF), "no_exif", "photoshop" (EXIF Software of an editor).
    doctor: str = ""


@dataclass
class Step:
    kind: str
    after_s: float
    lat: float
    lon: float
    has_fix: bool = True
    data: dict = field(default_factory=dict)
    photo: Photo | None = None
    leg: int = 0  # which dispatch of the case it answers: 0 the first, then CasePlan.acts.legs


@dataclass
class Leg:
    """A later dispatch of the case to another surveyor (simulator/acts.py plans them)."""

    device: int
    purpose: str  # scene (a re-dispatch) | estimate (a handover)
    # scene: seconds after the first dispatch; estimate: after the previous surveyor's
    # packets are all stored (the desk hands over what it has seen surveyed).
    after_s: float
    steps: list[Step]
    # A re-dispatch: what the surveyor it was taken from still records (their tablet has not
    # heard), seconds after the re-dispatch.
    previous_steps: list[Step] = field(default_factory=list)


@dataclass
class Acts:
    """What the desk does to a case besides the first dispatch, and when (simulated s)."""

    legs: list[Leg] = field(default_factory=list)
    delegate_after_s: float | None = None  # after the first dispatch (out-of-town cases)
    review_after_s: float | None = None  # after the estimate is stored
    resubmit: Step | None = None  # a return: after_s counts from the return
    approve_after_s: float = 0.0  # after the resubmitted estimate is stored
    close_after_s: float | None = None  # after the approval

    def holder(self, first: int) -> int:
        """The device holding the case at the end (who submits and resubmits)."""
        return self.legs[-1].device if self.legs else first


@dataclass
class CasePlan:
    index: int
    device: int
    case_no: str
    zone: str
    lat: float
    lon: float
    address: str
    simple: bool
    amount: int
    gap_before_s: float
    report_lead_s: float
    steps: list[Step]
    planted: set[str] = field(default_factory=set)
    acts: Acts = field(default_factory=Acts)  # the desk's acts beyond the dispatch

    @property
    def duration_s(self) -> float:
        return self.steps[-1].after_s


@dataclass
class DevicePlan:
    index: int
    name: str
    skew_s: float
    start_s: float
    cases: list[CasePlan]
    offline: list[tuple[float, float]]  # sim seconds after the day's start
    msgpack: bool
    # The clock model (simulator/clocks.py): when the wall clock is corrected and to what,
    # and when the tablet booted (it then sends its monotonic clock), in sim seconds.
    correct_at_s: float | None = None
    skew_after_s: float = 0.0
    boot_s: float | None = None


def offset_m(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    dlat = north_m / 111_320
    dlon = east_m / (111_320 * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def _scene(rng: random.Random, zone: str) -> tuple[float, float]:
    radius = rng.uniform(500, 9000) if zone == "city" else rng.uniform(18_000, 35_000)
    angle = rng.uniform(0, 2 * math.pi)
    return offset_m(*CENTRE, radius * math.cos(angle), radius * math.sin(angle))


def _late(rng: random.Random, share: float, normal: tuple[float, float], late: tuple[float, float]):
    return rng.uniform(*late) if rng.random() < share else rng.uniform(*normal)


def plan_case(
    rng: random.Random, opts: Options, index: int, device: int, origin: tuple[float, float]
) -> CasePlan:
    zone = "city" if rng.random() < 0.8 else "suburban"
    lat, lon = _scene(rng, zone)
    simple = rng.random() < 0.7
    amount = rng.randint(300, 1900) if rng.random() < 0.75 else rng.randint(2500, 9500)
    case = CasePlan(
        index=index,
        device=device,
        case_no="",
        zone=zone,
        lat=lat,
        lon=lon,
        address=f"simulated scene {index + 1}",
        simple=simple,
        amount=amount,
        gap_before_s=rng.uniform(60, 600),
        report_lead_s=rng.uniform(60, 300),
        steps=[],
    )
    case.steps = scene_steps(rng, opts, case, origin)
    return case


def estimate_items(amount: int) -> list[dict]:
    return [
        {"item": "front bumper", "yuan": amount // 2},
        {"item": "labour", "yuan": amount - amount // 2},
    ]


def scene_steps(
    rng: random.Random, opts: Options, case: CasePlan, origin: tuple[float, float], leg: int = 0
) -> list[Step]:
    """A scene visit from `origin`: accept, call, drive, arrive, photograph, survey, estimate."""
    lat, lon, amount = case.lat, case.lon, case.amount

    def fix() -> bool:
        return rng.random() >= opts.no_fix

    accepted = _late(rng, 0.08, (20, 150), (200, 420))
    contacted = accepted + _late(rng, 0.08, (20, 120), (200, 400))
    departed = contacted + rng.uniform(60, 240)
    if case.zone == "city":
        arrived = _late(rng, 0.1, (600, 1700), (1900, 2600))
    else:
        arrived = _late(rng, 0.1, (1500, 3300), (3700, 4500))
    arrived = max(arrived, departed + 180)
    steps = [
        Step("accepted", accepted, *origin, fix(), leg=leg),
        Step("contacted", contacted, *origin, fix(), leg=leg),
        Step("departed", departed, *origin, fix(), leg=leg),
    ]
    t = departed + rng.uniform(60, 150)
    while t < arrived - 30:
        share = (t - departed) / (arrived - departed)
        steps.append(
            Step(
                "position",
                t,
                origin[0] + (lat - origin[0]) * share,
                origin[1] + (lon - origin[1]) * share,
                leg=leg,
            )
        )
        t += rng.uniform(90, 150)
    steps.append(Step("arrived", arrived, *offset_m(lat, lon, rng.uniform(-40, 40), 20), leg=leg))
    t = arrived + rng.uniform(30, 120)
    shots = [("photo", PHOTO_CATEGORIES[i % len(PHOTO_CATEGORIES)]) for i in range(opts.photos)]
    if case.simple:
        shots += [("document", DOCUMENT_CATEGORIES[i]) for i in range(2)]
    for number, (kind, category) in enumerate(shots):
        plat, plon = offset_m(lat, lon, rng.uniform(-30, 30), rng.uniform(-30, 30))
        photo = Photo(case.index, number, category, plat, plon, rng.random() < opts.tus_share)
        steps.append(Step(kind, t, plat, plon, fix(), {"category": category}, photo, leg=leg))
        t += rng.uniform(20, 70)
    survey = t + rng.uniform(120, 600)
    steps.append(Step("survey_completed", survey, lat, lon, fix(), leg=leg))
    estimate = survey + (rng.uniform(60, 900) if amount < 2000 else rng.uniform(1200, 3600))
    data = {"amount": amount, "items": estimate_items(amount)}
    steps.append(Step("estimate_submitted", estimate, lat, lon, fix(), data, leg=leg))
    return steps


def _offline_windows(rng: random.Random, share: float, span_s: float) -> list[tuple[float, float]]:
    """Alternating signal and no signal, about `share` of the time without."""
    if share <= 0:
        return []
    share = min(share, 0.9)
    mean_off = 900.0
    mean_on = mean_off * (1 - share) / share
    windows, t = [], rng.expovariate(1 / mean_on)
    while t < span_s:
        length = rng.expovariate(1 / mean_off)
        windows.append((t, t + length))
        t += length + rng.expovariate(1 / mean_on)
    return windows


def plan_day(opts: Options, run_tag: str) -> list[DevicePlan]:
    rng = random.Random(opts.seed)
    devices = []
    per_device: list[list[CasePlan]] = [[] for _ in range(opts.devices)]
    origins = [
        offset_m(*CENTRE, rng.uniform(-5000, 5000), rng.uniform(-5000, 5000))
        for _ in range(opts.devices)
    ]
    for i in range(opts.cases):
        d = i % opts.devices
        case = plan_case(rng, opts, i, d, origins[d])
        case.case_no = f"SIM-{run_tag}-{i + 1:05d}"
        origins[d] = (case.lat, case.lon)
        per_device[d].append(case)
    every = [c for cases in per_device for c in cases]
    from simulator.acts import plan_acts  # acts.py builds on this module's types

    plan_acts(rng, opts, every)
    _plant(rng, opts, [c for c in every if not c.acts.legs and c.zone != "out_of_town"])
    for d in range(opts.devices):
        start = rng.uniform(0, 1200)
        span = start + sum(c.gap_before_s + c.duration_s for c in per_device[d]) + 600
        devices.append(
            DevicePlan(
                index=d,
                name=f"sim-{run_tag}-sv{d + 1:02d}",
                skew_s=rng.uniform(-opts.clock_skew_min, opts.clock_skew_min) * 60,
                start_s=start,
                cases=per_device[d],
                offline=_offline_windows(rng, opts.offline, span),
                msgpack=d % 2 == 1,
            )
        )
    from simulator.clocks import plan_clocks  # clocks.py builds on this module's types

    plan_clocks(opts, devices)
    return devices


def _plant(rng: random.Random, opts: Options, cases: list[CasePlan]) -> None:
    """A photo reused across two cases, and an arrival fix far from the scene."""
    count = opts.anomalies if opts.anomalies >= 0 else max(1, round(len(cases) * 0.02))
    with_photos = [c for c in cases if any(s.kind == "photo" for s in c.steps)]
    if len(with_photos) >= 2:
        for _ in range(count):
            source, target = rng.sample(with_photos, 2)
            if "reused_photo" in target.planted or "reused_photo" in source.planted:
                continue
            step = next(s for s in target.steps if s.photo and s.kind == "photo")
            original = next(s.photo for s in source.steps if s.photo)
            step.photo = original  # the surveyor is at the scene, sending an old photo
            step.data = {"category": original.category}
            target.planted.add("reused_photo")
            source.planted.add("reused_photo_source")
    for case in rng.sample(cases, min(count, len(cases))):
        arrival = next(s for s in case.steps if s.kind == "arrived")
        arrival.lat, arrival.lon = offset_m(case.lat, case.lon, FAR_ARRIVAL_M, 0)
        case.planted.add("far_arrival")
    # A random stream of their own: the rest of the day is planned as without them.
    _plant_photos(random.Random(f"{opts.seed}/photos"), count, with_photos)


DOCTORED = {"near_duplicate": "recoded", "no_exif": "no_exif", "edited_exif": "photoshop"}


def _plant_photos(rng: random.Random, count: int, with_photos: list[CasePlan]) -> None:
    """Doctored photos (issue 16), each on a case of its own with no other planted photo:
    a re-encoded, resized copy of another case's photo, one without EXIF, one edited."""
    for _ in range(count):
        for kind, doctor in DOCTORED.items():
            free = [c for c in with_photos if not c.planted & {"reused_photo", *DOCTORED}]
            if not free:
                continue
            target, source = rng.choice(free), None
            if kind == "near_duplicate":
                others = [c for c in with_photos if c is not target]
                if not others:
                    continue
                source = rng.choice(others)
            step = next(s for s in target.steps if s.photo and s.kind == "photo")
            mine = step.photo
            assert mine is not None
            if source is not None:
                original = next(s.photo for s in source.steps if s.photo)
                assert original is not None
                # Another case's picture, re-taken here: the EXIF is this scene's.
                step.photo = replace(
                    original, lat=mine.lat, lon=mine.lon, via_tus=mine.via_tus, doctor=doctor
                )
                source.planted.add("near_duplicate_source")
            else:
                step.photo = replace(mine, doctor=doctor)
            target.planted.add(kind)


def day_span_s(devices: list[DevicePlan]) -> float:
    return max(
        (d.start_s + sum(c.gap_before_s + c.duration_s for c in d.cases) for d in devices),
        default=0.0,
    )
