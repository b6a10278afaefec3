"""OpenRosa 1.0 for ODK Collect: form list, form and its media, HEAD and POST submission.

One server URL per surveyor's device, in either form Collect offers: `/openrosa` with HTTP
Basic (any user name, the surveyor's token as password), or `/collect/<token>` carrying the
token in the path so that a QR code configures Collect in one scan. Collect first asks
without credentials and sends them after a 401 with `WWW-Authenticate: Basic`. The
submission itself is settled by sync/openrosa/submit.py; this layer parses multipart,
authenticates, and answers in OpenRosa's XML (errors included, which Collect shows).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from xml.sax.saxutils import escape

from litestar import Controller, Request, Response, get, head, post
from litestar.connection import ASGIConnection
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException, NotAuthorizedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncSession

from cases.models import User
from cases.refusal import NotFound, Refusal
from cases.users import token_holder
from media.service import MediaService
from server.db import Database
from server.settings import Settings
from sync.openrosa.form import CASES_CSV, Form, case_choices, media_md5, survey_form
from sync.openrosa.instance import MAX_XML_BYTES
from sync.openrosa.submit import Answer, Part, submit
from sync.service import SyncService

# Collect splits a submission whose files add up to more than this into several POSTs.
ACCEPT_CONTENT_LENGTH = 10 * 1024 * 1024
OPENROSA = {"X-OpenRosa-Version": "1.0"}
XML_TYPE = "text/xml; charset=utf-8"
MAX_POST_BYTES = 256 * 1024 * 1024
REALM = 'Basic realm="kancha", charset="UTF-8"'
NS_RESPONSE = "http://openrosa.org/http/response"


def xml_response(body: str | bytes, status: int = 200, media_type: str = XML_TYPE) -> Response:
    return Response(body, status_code=status, media_type=media_type, headers=dict(OPENROSA))


def openrosa_message(text: str, status: int, nature: str = "") -> Response:
    kind = f' nature="{nature}"' if nature else ""
    body = (
        f'<OpenRosaResponse xmlns="{NS_RESPONSE}">'
        f"<message{kind}>{escape(text)}</message></OpenRosaResponse>"
    )
    return xml_response(body, status)


def _refused(_: Request, exc: Refusal) -> Response:
    response = openrosa_message(exc.detail, exc.status, "error")
    response.headers.update(exc.headers)
    return response


def _http_error(_: Request, exc: HTTPException) -> Response:
    response = openrosa_message(str(exc.detail), exc.status_code, "error")
    response.headers.update(exc.headers or {})
    if exc.status_code == 401:
        response.headers["WWW-Authenticate"] = REALM
    return response


def _unauthenticated(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail, headers={"WWW-Authenticate": REALM})


def basic_password(header: str) -> str | None:
    """The password of an HTTP Basic `Authorization` header (the user name is not read)."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, colon, password = decoded.partition(":")
    return password if colon and password else None


async def collect_user(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard: the surveyor whose token is in the path or the Basic password (401 else)."""
    token = connection.path_params.get("token") or basic_password(
        connection.headers.get("authorization", "")
    )
    if not token:
        raise _unauthenticated("credentials needed: the surveyor's token as password")
    database: Database = connection.app.state.database
    async with database.one_read() as conn:
        user = await token_holder(conn, token)
    if user is None:
        raise _unauthenticated("invalid or revoked token")
    if user.role not in ("surveyor", "admin"):
        raise _unauthenticated(f"role {user.role!r} does not submit surveys")
    connection.scope["user"] = user


def _form(form_id: str) -> Form:
    form = survey_form()
    if form_id != form.form_id:
        raise NotFound("form", f"no form {form_id!r}")
    return form


def _base(request: Request, suffix: str) -> str:
    """The device's server URL (what it was configured with), from this request's URL."""
    url = str(request.url.with_replacements(query=""))
    return url[: -len(suffix)] if url.endswith(suffix) else url.rsplit("/", 1)[0]


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    await upload.seek(0)
    while block := await upload.read(1024 * 1024):
        yield block


def _sent_at(request: Request):
    """The device's clock as it sent (the `Date` header OpenRosa requires), if readable."""
    value = request.headers.get("date")
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else None


def _answer_text(answer: Answer) -> str:
    if answer.again:
        return f"Already received ({answer.instance_id}): nothing new stored."
    if not answer.complete:
        waiting = f"; still to come: {', '.join(answer.missing)}" if answer.missing else ""
        return f"Part received ({answer.instance_id}){waiting}."
    if answer.held:
        return "Received, but this case is not dispatched to you (yet): it is held until it is."
    return f"Survey received ({answer.instance_id})."


class CollectController(Controller):
    """The Basic-auth server URL: /openrosa."""

    path = "/openrosa"
    tags = ["openrosa (ODK Collect)"]
    guards = [collect_user]
    include_in_schema = False  # XML and multipart for Collect: outside the JSON contract
    exception_handlers = {Refusal: _refused, HTTPException: _http_error}

    @get("/formList", sync_to_thread=False)
    def form_list(self, request: Request) -> Response:
        form = survey_form()
        base = _base(request, "/formList")
        forms = f"{base}/forms/{form.form_id}"
        body = (
            '<xforms xmlns="http://openrosa.org/xforms/xformsList"><xform>'
            f"<formID>{escape(form.form_id)}</formID><name>{escape(form.title)}</name>"
            f"<version>{escape(form.version)}</version><hash>{form.md5}</hash>"
            f"<downloadUrl>{escape(forms)}/form.xml</downloadUrl>"
            f"<manifestUrl>{escape(forms)}/manifest</manifestUrl>"
            "</xform></xforms>"
        )
        return xml_response(body)

    @get("/forms/{form_id:str}/form.xml", sync_to_thread=False)
    def form_xml(self, form_id: FromPath[str]) -> Response:
        return xml_response(_form(form_id).xml)

    @get("/forms/{form_id:str}/manifest")
    async def manifest(
        self,
        request: Request,
        form_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        user: NamedDependency[User],
    ) -> Response:
        form = _form(form_id)
        choices = await case_choices(db_session, user)
        url = f"{_base(request, '/manifest')}/media/{CASES_CSV}"
        body = (
            '<manifest xmlns="http://openrosa.org/xforms/xformsManifest"><mediaFile>'
            f"<filename>{CASES_CSV}</filename><hash>{media_md5(choices)}</hash>"
            f"<downloadUrl>{escape(url)}</downloadUrl></mediaFile></manifest>"
        )
        del form
        return xml_response(body)

    @get("/forms/{form_id:str}/media/{filename:str}")
    async def media_file(
        self,
        form_id: FromPath[str],
        filename: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        user: NamedDependency[User],
    ) -> Response:
        _form(form_id)
        if filename != CASES_CSV:
            raise NotFound("filename", f"no media file {filename!r}")
        body = await case_choices(db_session, user)
        return xml_response(body, media_type="text/csv; charset=utf-8")

    @head(
        "/submission",
        status_code=204,
        response_headers={
            **OPENROSA,
            "X-OpenRosa-Accept-Content-Length": str(ACCEPT_CONTENT_LENGTH),
        },
    )
    async def submission_head(self) -> None:
        """Collect asks before sending: authenticated, and how much one POST may carry."""

    # Litestar parses multipart in memory: a hard cap here, the settings' limit checked below.
    @post("/submission", request_max_body_size=MAX_POST_BYTES)
    async def submission(
        self,
        request: Request,
        sync: NamedDependency[SyncService],
        media: NamedDependency[MediaService],
        settings: NamedDependency[Settings],
    ) -> Response:
        limit = max(ACCEPT_CONTENT_LENGTH, settings.max_media_bytes) + 1024 * 1024
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise Refusal("body", f"a submission POST may carry at most {limit} bytes", status=413)
        content_type = request.headers.get("content-type", "")
        if not content_type.lower().startswith("multipart/form-data"):
            raise Refusal("body", "expected multipart/form-data with xml_submission_file")
        form_data = await request.form()
        xml_part = form_data.get("xml_submission_file")
        if xml_part is None:
            raise Refusal("xml_submission_file", "required: the instance XML")
        if isinstance(xml_part, UploadFile):
            xml = await xml_part.read(MAX_XML_BYTES + 1)
        else:
            xml = str(xml_part).encode()
        parts = []
        incomplete = False
        for name, value in form_data.multi_items():
            if name == "xml_submission_file":
                continue
            if name == "*isIncomplete*":
                incomplete = str(value).strip().lower() == "yes"
                continue
            if not isinstance(value, UploadFile):
                raise Refusal(name, "expected a file part")
            parts.append(Part(value.filename or name, lambda v=value: _chunks(v)))
        answer = await submit(
            sync,
            media,
            survey_form(),
            xml,
            parts,
            incomplete=incomplete,
            sent_at=_sent_at(request),
        )
        nature = "submit_success" if answer.complete else ""
        return openrosa_message(_answer_text(answer), 201 if answer.complete else 202, nature)


class TokenCollectController(CollectController):
    """The same under /collect/<token>: the token travels in the URL (for a QR code)."""

    path = "/collect/{token:str}"
