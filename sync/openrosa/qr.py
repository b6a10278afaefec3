"""The QR code that configures ODK Collect in one scan: Collect's settings JSON, compressed
with zlib and base64-encoded (the format ODK documents for its configuration QR codes),
drawn by segno. The server URL carries the surveyor's token (`/collect/<token>`), so no
password is typed; the form list is mirrored exactly and finished forms go out on any
network as soon as they are finalized."""

from __future__ import annotations

import base64
import json
import zlib

import segno


def collect_settings(server_root: str, token: str, username: str) -> dict:
    """Collect's settings for a surveyor, for a server reached at `server_root`."""
    return {
        "general": {
            "server_url": f"{server_root.rstrip('/')}/collect/{token}",
            "username": username,
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {"name": f"kancha · {username}", "icon": "K", "color": "#1f6f8b"},
    }


def settings_payload(settings: dict) -> str:
    """What the QR code carries: base64(zlib(JSON))."""
    packed = zlib.compress(json.dumps(settings, ensure_ascii=False).encode("utf-8"))
    return base64.b64encode(packed).decode("ascii")


def read_payload(payload: str) -> dict:
    """The settings a payload carries (what Collect does on a scan)."""
    return json.loads(zlib.decompress(base64.b64decode(payload)).decode("utf-8"))


def qr_code(settings: dict) -> segno.QRCode:
    return segno.make(settings_payload(settings), micro=False, error="m")


def svg_data_uri(settings: dict) -> str:
    """The QR code as an SVG data URI, for an <img> on a desk page."""
    return qr_code(settings).svg_data_uri(scale=4, border=2)
