"""Media benchmark: PUT and tus upload throughput against a plain copy of the same bytes
(`cp` + fsync, to the same disk), thumbnails per second, and the server's peak RSS growth
while one 200 MiB upload goes through (with its own copy figure).

Runs a real `kancha serve` (SQLite, media on local disk) in a temp folder and prints JSON.
Targets (issue 14): upload >= 0.6 of the copy, RSS growth < 64 MiB (flat). Then the same
tus uploads with media on S3 (`rclone serve s3` on local disk: it measures kancha's S3
path, not a real S3), and one 24 MiB upload in 2 MiB PATCHes (5 MiB parts and tails).

    .venv/bin/python bench/media.py [--photos 8] [--big-mib 200]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from media.thumbnails import render  # noqa: E402
from tests.live import ServerProcess  # noqa: E402
from tests.media.conftest import rclone_s3  # noqa: E402
from tests.media.samples import photo  # noqa: E402
from tests.media.test_store_unavailable import s3_env  # noqa: E402

MiB = 1024 * 1024


def make_photos(folder: Path, count: int, first: int = 0) -> list[Path]:
    """12-megapixel JPEGs with camera EXIF (time, offset, GPS), grain so they compress
    like real photos (a few MB each)."""
    paths = []
    start = datetime(2026, 1, 5, 15, 40)
    for i in range(first, first + count):
        data = photo(
            4000,
            3000,
            seed=i,
            noise=True,
            quality=90,
            taken_at=start + timedelta(minutes=i),
            offset="+08:00",
            gps=(31.2304 + i * 1e-4, 121.4737),
        )
        path = folder / f"IMG_{i:04d}.jpg"
        path.write_bytes(data)
        paths.append(path)
    return paths


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def token_for(env: dict[str, str], cwd: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "server.cli", "user", "add", "bench", "--role", "admin"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def plain_copy_mb_s(paths: list[Path], folder: Path) -> float:
    """The same bytes copied file to file, fsynced like the server does."""
    folder.mkdir()
    total = sum(p.stat().st_size for p in paths)
    began = time.perf_counter()
    for p in paths:
        dest = folder / p.name
        shutil.copyfile(p, dest)
        with open(dest, "rb+") as f:
            os.fsync(f.fileno())
    return total / MiB / (time.perf_counter() - began)


def tus_mb_s(base: str, headers: dict, paths: list[Path]) -> float:
    """Each file as a tus upload: POST to create it, then its bytes in one PATCH."""
    total = sum(p.stat().st_size for p in paths)
    bodies = [p.read_bytes() for p in paths]
    tus = {**headers, "Tus-Resumable": "1.0.0"}
    with httpx.Client(timeout=600) as http:
        began = time.perf_counter()
        for data in bodies:
            digest = base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode()
            created = http.post(
                f"{base}/v1/uploads",
                headers={
                    **tus,
                    "Upload-Length": str(len(data)),
                    "Upload-Metadata": f"sha256 {digest}",
                },
            )
            assert created.status_code == 201, created.text
            response = http.patch(
                base + created.headers["location"],  # /v1/uploads/{id}
                content=data,
                headers={
                    **tus,
                    "Upload-Offset": "0",
                    "Content-Type": "application/offset+octet-stream",
                },
            )
            assert response.status_code == 204, response.text
        elapsed = time.perf_counter() - began
    return total / MiB / elapsed


def tus_chunked_mb_s(base: str, headers: dict, data: bytes, chunk: int) -> float:
    """One upload sent in `chunk`-sized PATCHes."""
    tus = {**headers, "Tus-Resumable": "1.0.0"}
    digest = base64.b64encode(hashlib.sha256(data).hexdigest().encode()).decode()
    with httpx.Client(timeout=600) as http:
        began = time.perf_counter()
        created = http.post(
            f"{base}/v1/uploads",
            headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": f"sha256 {digest}"},
        )
        assert created.status_code == 201, created.text
        for offset in range(0, len(data), chunk):
            response = http.patch(
                base + created.headers["location"],
                content=data[offset : offset + chunk],
                headers={
                    **tus,
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                },
            )
            assert response.status_code == 204, response.text
        elapsed = time.perf_counter() - began
    return len(data) / MiB / elapsed


def tus_on_s3(folder: Path, paths: list[Path]) -> dict:
    """tus MB/s with media on S3 (rclone serve s3 over local disk), same photos, one PATCH
    each; and a 24 MiB document in 2 MiB PATCHes."""
    with rclone_s3(folder / "s3") as (s3, _):
        env = s3_env(s3, s3.new_bucket(), KANCHA_DATA_DIR=str(folder / "data-s3"))
        server = ServerProcess({**env, "PYTHONPATH": str(ROOT)}, folder)
        server.start()
        try:
            headers = {"Authorization": f"Bearer {token_for(server.env, folder)}"}
            photos = tus_mb_s(server.url, headers, paths)
            document = b"%PDF-1.4\n" + os.urandom(24 * MiB) + b"\n%%EOF\n"
            chunked = tus_chunked_mb_s(server.url, headers, document, 2 * MiB)
        finally:
            server.stop()
    return {
        "photos_mb_per_s": round(photos, 1),
        "24_mib_in_2_mib_patches_mb_per_s": round(chunked, 1),
    }


def upload_mb_s(base: str, headers: dict, paths: list[Path]) -> float:
    total = sum(p.stat().st_size for p in paths)
    bodies = [(p.read_bytes(), hashlib.sha256(p.read_bytes()).hexdigest()) for p in paths]
    with httpx.Client(timeout=600) as http:
        warm = photo(64, 48, seed=999)  # first request pays imports and connection set-up
        digest = hashlib.sha256(warm).hexdigest()
        assert http.put(f"{base}/v1/media/{digest}", content=warm, headers=headers).is_success
        began = time.perf_counter()
        for data, digest in bodies:
            response = http.put(f"{base}/v1/media/{digest}", content=data, headers=headers)
            assert response.status_code == 201, response.text
        elapsed = time.perf_counter() - began
    return total / MiB / elapsed


def _curl_mb_s(base: str, headers: dict, paths: list[Path], *, upload: bool) -> float | None:
    """MB/s of one curl run over `paths`, PUT (`-T`) or GET of each by its SHA-256, over one
    connection. None where curl is not installed."""
    curl = shutil.which("curl")
    if curl is None:
        return None
    args = [curl, "-sS", "--fail"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    for p in paths:
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        args += [
            "-o",
            "/dev/null",
            *(["-T", str(p)] if upload else []),
            f"{base}/v1/media/{digest}",
        ]
    total = sum(p.stat().st_size for p in paths)
    began = time.perf_counter()
    subprocess.run(args, check=True)
    return total / MiB / (time.perf_counter() - began)


def curl_upload_mb_s(base: str, headers: dict, paths: list[Path]) -> float | None:
    """The same PUTs by curl (a stock client, in C): httpx on the same two cores spends
    about as much CPU sending as the server does receiving, so this is the figure that
    measures the server."""
    return _curl_mb_s(base, headers, paths, upload=True)


def curl_download_mb_s(base: str, headers: dict, paths: list[Path]) -> float | None:
    """The originals read back by curl (the reviewer's GET): streamed from the disk store in
    1 MiB reads (uvicorn offers no sendfile)."""
    return _curl_mb_s(base, headers, paths, upload=False)


def thumbnails_per_second(paths: list[Path]) -> tuple[float, float]:
    began = time.perf_counter()
    for p in paths:
        render(p)
    elapsed = time.perf_counter() - began
    return len(paths) / elapsed, 2 * len(paths) / elapsed


def big_upload_rss(base: str, headers: dict, pid: int, folder: Path, mib: int) -> dict:
    """Stream one `mib` MiB document through PUT and watch the server's RSS meanwhile."""
    path = folder / "big.pdf"
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        head = b"%PDF-1.7\n"
        f.write(head)
        digest.update(head)
        for _ in range(mib):
            block = os.urandom(MiB)
            f.write(block)
            digest.update(block)
        tail = b"\n%%EOF\n"  # a PDF ends with its trailer, or it is refused as truncated
        f.write(tail)
        digest.update(tail)
    size = path.stat().st_size
    copy = plain_copy_mb_s([path], folder / "big-copy")
    baseline = rss_kib(pid, "VmRSS")
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to now
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(pid, "VmRSS"))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    def body():
        with open(path, "rb") as f:
            while block := f.read(256 * 1024):
                yield block

    began = time.perf_counter()
    with httpx.Client(timeout=600) as http:
        response = http.put(
            f"{base}/v1/media/{digest.hexdigest()}",
            content=body(),
            headers={**headers, "Content-Length": str(size)},
        )
    elapsed = time.perf_counter() - began
    done.set()
    sampler.join()
    assert response.status_code == 201, response.text
    hwm = rss_kib(pid, "VmHWM")
    return {
        "bytes": size,
        "seconds": round(elapsed, 3),
        "mb_per_s": round(size / MiB / elapsed, 1),
        "plain_copy_mb_per_s": round(copy, 1),
        "vs_copy_ratio": round(size / MiB / elapsed / copy, 3),
        "rss_before_mib": round(baseline / 1024, 1),
        "rss_peak_mib": round(max(hwm, peak[0]) / 1024, 1),
        "rss_growth_mib": round((max(hwm, peak[0]) - baseline) / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--big-mib", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kancha-bench-") as tmp:
        folder = Path(tmp)
        (folder / "in").mkdir()
        (folder / "tus").mkdir()
        (folder / "curl").mkdir()
        paths = make_photos(folder / "in", args.photos)
        mean_mb = sum(p.stat().st_size for p in paths) / len(paths) / MiB
        env = {
            "KANCHA_DATA_DIR": str(folder / "data"),
            "KANCHA_MAX_MEDIA_BYTES": str((args.big_mib + 16) * MiB),
            "PYTHONPATH": str(ROOT),
        }
        server = ServerProcess(env, folder)
        server.start()
        try:
            headers = {"Authorization": f"Bearer {token_for(server.env, folder)}"}
            copy = plain_copy_mb_s(paths, folder / "copy")
            api = upload_mb_s(server.url, headers, paths)
            curl_paths = make_photos(folder / "curl", args.photos, first=3000)
            by_curl = curl_upload_mb_s(server.url, headers, curl_paths)
            download = curl_download_mb_s(server.url, headers, curl_paths)
            tus_paths = make_photos(folder / "tus", args.photos, first=1000)
            tus = tus_mb_s(server.url, headers, tus_paths)
            photos_s, thumbs_s = thumbnails_per_second(paths)
            big = big_upload_rss(server.url, headers, server.proc.pid, folder, args.big_mib)
        finally:
            server.stop()
        (folder / "tus-s3").mkdir()
        s3_figures = tus_on_s3(folder, make_photos(folder / "tus-s3", args.photos, first=2000))
    result = {
        "photos": args.photos,
        "photo_pixels": 4000 * 3000,
        "photo_mean_mib": round(mean_mb, 2),
        "upload_mb_per_s": round(api, 1),
        "plain_copy_mb_per_s": round(copy, 1),
        "upload_vs_copy_ratio": round(api / copy, 3),
        "upload_by_curl_mb_per_s": by_curl and round(by_curl, 1),
        "upload_by_curl_vs_copy_ratio": by_curl and round(by_curl / copy, 3),
        "download_by_curl_mb_per_s": download and round(download, 1),
        "download_by_curl_vs_copy_ratio": download and round(download / copy, 3),
        "tus_mb_per_s": round(tus, 1),
        "tus_vs_copy_ratio": round(tus / copy, 3),
        "tus_on_s3": s3_figures,
        "copy_is": "shutil.copyfile then fsync of each file, into the same temp folder",
        "photos_thumbnailed_per_s": round(photos_s, 2),
        "thumbnails_per_s": round(thumbs_s, 2),
        "big_upload": big,
        "targets": {
            "ratio_at_least": 0.6,
            "ratio_met": api / copy >= 0.6,
            "tus_ratio_met": tus / copy >= 0.6,
            "big_ratio_met": big["vs_copy_ratio"] >= 0.6,
            "rss_growth_under_mib": 64,
            "rss_met": big["rss_growth_mib"] < 64,
        },
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
