"""The OpenRosa path against a live server process (one per backend, for both checks):
racing identical POSTs store one of everything; a kill -9 while Collect submits loses
nothing it was told was received, and Collect's re-sends after the restart settle the
rest exactly once. SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import httpx
from sqlalchemy import func, select

from cases.models import Packet
from sync.models import OdkSubmission
from tests.media.samples import photo
from tests.openrosa.collect import instance_xml, new_instance_id
from tests.tablets import dispatched_live


def _post(client: httpx.Client, token: str, xml: bytes, files: dict[str, bytes]):
    multipart = [("xml_submission_file", ("submission.xml", xml, "text/xml"))]
    multipart += [(n, (n, b, "image/jpeg")) for n, b in files.items()]
    return client.post(f"/collect/{token}/submission", files=multipart)


async def _packets(db) -> dict[str, int]:
    async with db.session(write=False) as session:
        rows = await session.execute(
            select(Packet.packet_id, func.count()).group_by(Packet.packet_id)
        )
        return dict(rows.all())


def _token(tokens) -> str:
    return tokens["sv1"]["Authorization"].removeprefix("Bearer ")


def _race(url: str, token: str, case_id: str) -> None:
    """Rounds of three identical POSTs released at the same instant: all answered 201."""
    for round_no in range(2):
        files = {f"r{round_no}.jpg": photo(seed=100 + round_no)}
        xml = instance_xml(
            case_id, instance_id=new_instance_id(), files={"scene_photo": f"r{round_no}.jpg"}
        )
        barrier = threading.Barrier(3)
        statuses: list[int] = []

        def run(xml=xml, files=files, barrier=barrier, statuses=statuses) -> None:
            with httpx.Client(base_url=url, timeout=60) as client:
                barrier.wait()
                statuses.append(_post(client, token, xml, files).status_code)

        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [201, 201, 201]


async def test_racing_posts_and_a_kill_9_store_one_of_everything(server_process, tokens, db):
    url = server_process.url
    case_id = dispatched_live(url, tokens)
    token = _token(tokens)
    _race(url, token, case_id)
    stored = await _packets(db)
    assert len(stored) == 2 * 4 and set(stored.values()) == {1}  # arrived, photo, survey, estimate
    async with db.session(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(OdkSubmission)) == 2

    queue = [
        (instance_xml(case_id, instance_id=new_instance_id(), files={"scene_photo": f"{i}.jpg"}),
         {f"{i}.jpg": photo(seed=200 + i, width=320, height=240)})
        for i in range(10)
    ]  # fmt: skip
    received: list[bytes] = []

    def send() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            for xml, files in queue:
                try:
                    response = _post(client, token, xml, files)
                except httpx.TransportError:
                    return  # the server died under this POST
                assert response.status_code == 201, response.text
                received.append(xml)

    worker = threading.Thread(target=send)
    worker.start()
    while len(received) < 3 and worker.is_alive():
        threading.Event().wait(0.01)
    server_process.kill()
    worker.join()
    assert received, "nothing was received before the kill"

    async with db.session(write=False) as session:
        done = set(
            await session.scalars(
                select(OdkSubmission.xml).where(OdkSubmission.completed_at.is_not(None))
            )
        )
    assert set(received) <= done  # every submission answered 201 survived
    assert set((await _packets(db)).values()) <= {1}

    server_process.start()  # Collect re-sends what it never heard answered, and one it did
    with httpx.Client(base_url=url, timeout=30) as client:
        for xml, files in [queue[0], *[q for q in queue if q[0] not in received]]:
            assert _post(client, token, xml, files).status_code == 201
    stored = await _packets(db)
    assert len(stored) == 2 * 4 + 10 * 4 and set(stored.values()) == {1}
