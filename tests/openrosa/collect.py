"""A client that behaves as ODK Collect does over OpenRosa 1.0, and instances of the survey.

Collect asks without credentials first and sends HTTP Basic only after a 401 naming Basic;
it reads the form list, downloads the form and its manifest's media, HEADs the submission
URL for the accepted size, then POSTs multipart `xml_submission_file` plus attachments,
splitting a submission bigger than that size into POSTs marked `*isIncomplete*`.
"""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from email.utils import format_datetime
from typing import Any

from tests.factories import T0

LIST = "{http://openrosa.org/xforms/xformsList}"
MANIFEST = "{http://openrosa.org/xforms/xformsManifest}"
RESPONSE = "{http://openrosa.org/http/response}"
FORM_ID, VERSION = "kancha_survey", "2026120301"
PHOTO_FIELDS = ("scene_photo", "damage_photo", "vin_photo", "plate_photo")


def new_instance_id() -> str:
    return f"uuid:{uuid.uuid4()}"


def instance_xml(
    case_id: str,
    *,
    instance_id: str,
    files: dict[str, str] | None = None,
    deviceid: str = "collect:Xk3Lm9Qp2Rt7",
    documents: tuple[str, ...] = (),
    estimate: str = "1500",
    notes: str = "rear bumper",
    arrived_at: str = "2026-01-05T16:10:00.000+08:00",
    end: str = "2026-01-05T16:40:00.000+08:00",
    form_id: str = FORM_ID,
    version: str = VERSION,
    extra: str = "",
) -> bytes:
    """An instance as Collect writes it: photo and document fields hold file names."""
    files = files or {}
    photos = "".join(f"<{f}>{files.get(f, '')}</{f}>" for f in PHOTO_FIELDS)
    docs = "".join(f"<{d}>{files.get(d, '')}</{d}>" for d in documents)
    return (
        f'<?xml version="1.0"?><data xmlns:jr="http://openrosa.org/javarosa" '
        f'xmlns:orx="http://openrosa.org/xforms" id="{form_id}" version="{version}">'
        f"<start>2026-01-05T16:05:00.000+08:00</start><end>{end}</end>"
        f"<deviceid>{deviceid}</deviceid><case>{case_id}</case>"
        f"<arrived_at>{arrived_at}</arrived_at>"
        f"<arrival>31.2305 121.4738 4.0 8.0</arrival>"
        f"<photos>{photos}</photos><documents>{' '.join(documents)}</documents>"
        f"<document_photos>{docs}</document_photos><scene/>"
        f"<estimate>{estimate}</estimate><items>bumper</items><notes>{notes}</notes>{extra}"
        f"<meta><instanceID>{instance_id}</instanceID><instanceName>x</instanceName></meta>"
        "</data>"
    ).encode()


@dataclass
class Collect:
    """One Collect install, configured with `server` (a base path) and maybe a password."""

    client: Any  # AsyncTestClient or httpx.AsyncClient
    server: str  # "/openrosa" (with password) or "/collect/<token>"
    password: str | None = None
    username: str = "sv1"
    challenged: list[str] = field(default_factory=list)
    split_at: int | None = None  # a smaller accepted size than advertised, to force splits

    def _auth(self) -> dict[str, str]:
        pair = f"{self.username}:{self.password}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    async def request(self, method: str, path: str, **kwargs: Any):
        headers = {
            "X-OpenRosa-Version": "1.0",
            "Date": format_datetime(T0, usegmt=True),
            **kwargs.pop("headers", {}),
        }
        url = path if path.startswith((self.server, "http")) else self.server + path
        response = await self.client.request(method, url, headers=headers, **kwargs)
        if response.status_code == 401 and self.password is not None:
            self.challenged.append(response.headers.get("www-authenticate", ""))
            response = await self.client.request(
                method, url, headers={**headers, **self._auth()}, **kwargs
            )
        return response

    async def form_list(self) -> list[dict[str, str]]:
        response = await self.request("GET", "/formList")
        assert response.status_code == 200, response.text
        assert response.headers["x-openrosa-version"] == "1.0"
        root = ET.fromstring(response.content)
        return [
            {child.tag.removeprefix(LIST): child.text or "" for child in xform}
            for xform in root.iter(f"{LIST}xform")
        ]

    async def download(self, entry: dict[str, str]) -> tuple[bytes, dict[str, bytes]]:
        """The form and every media file its manifest lists (checked against its hash)."""
        import hashlib

        form = await self.request("GET", _path(entry["downloadUrl"]))
        assert form.status_code == 200, form.text
        assert "md5:" + hashlib.md5(form.content).hexdigest() == entry["hash"]
        manifest = await self.request("GET", _path(entry["manifestUrl"]))
        assert manifest.status_code == 200, manifest.text
        media = {}
        for item in ET.fromstring(manifest.content).iter(f"{MANIFEST}mediaFile"):
            name = item.findtext(f"{MANIFEST}filename")
            got = await self.request("GET", _path(item.findtext(f"{MANIFEST}downloadUrl") or ""))
            assert got.status_code == 200, got.text
            assert "md5:" + hashlib.md5(got.content).hexdigest() == item.findtext(f"{MANIFEST}hash")
            media[name or ""] = got.content
        return form.content, media

    async def accepted_size(self) -> int:
        response = await self.request("HEAD", "/submission")
        assert response.status_code == 204, response.status_code
        return int(response.headers["x-openrosa-accept-content-length"])

    async def submit(self, xml: bytes, files: dict[str, bytes] | None = None) -> list:
        """HEAD, then one POST per part (Collect's split); every response, in order."""
        limit = await self.accepted_size()
        if self.split_at is not None:
            limit = min(limit, self.split_at)
        files = files or {}
        parts: list[list[str]] = [[]]
        size = len(xml)
        for name, data in files.items():
            if parts[-1] and size + len(data) > limit:
                parts.append([])
                size = len(xml)
            parts[-1].append(name)
            size += len(data)
        responses = []
        for i, names in enumerate(parts):
            multipart = [("xml_submission_file", ("submission.xml", xml, "text/xml"))]
            multipart += [(n, (n, files[n], "image/jpeg")) for n in names]
            data = {"*isIncomplete*": "yes"} if i < len(parts) - 1 else {}
            responses.append(await self.request("POST", "/submission", files=multipart, data=data))
        return responses


def message(response) -> str:
    return ET.fromstring(response.content).findtext(f"{RESPONSE}message") or ""


def _path(url: str) -> str:
    """An absolute URL from the server as the test client's path."""
    if "://" in url:
        return "/" + url.split("://", 1)[1].split("/", 1)[1]
    return url
