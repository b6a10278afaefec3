"""Content-addressed object storage: one small protocol, on local disk or on S3.

Keys come from the SHA-256 alone (`object_key`), so nothing a client sends can steer a
path. Every write is atomic: on disk a temp file is fsynced and renamed into place; on S3
a single PUT or a multipart upload makes the object appear whole or not at all. A crash
leaves at worst a stale temp file (or an unfinished multipart upload), never a half object
under a real key. Blocking I/O runs in worker threads so the event loop stays free.

A store that cannot be used (disk full, an I/O error, S3 unreachable, a missing bucket,
refused keys) raises `StoreUnavailable` (a refusal: 503, retry later), naming the store and
why; `check()` lets `kancha serve` refuse to start on a store it cannot write.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import unquote, urlparse

import anyio.to_thread

from cases.refusal import Unavailable

SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
Variant = Literal["original", "small", "screen"]
VARIANTS: tuple[Variant, ...] = ("original", "small", "screen")


def object_key(sha256: str, variant: Variant = "original") -> str:
    """`original/ab/abcdef…`: derived from the hash only; anything else is refused."""
    if not SHA256_HEX.fullmatch(sha256) or variant not in VARIANTS:
        raise ValueError(f"not a storage key: {sha256!r} {variant!r}")
    return f"{variant}/{sha256[:2]}/{sha256}"


# A store that fails is expected to recover (space freed, S3 back): ask to retry then.
RETRY_AFTER_SECONDS = 30


class StoreUnavailable(Unavailable):
    """The store cannot be used now; `store` names it (its URL), `reason` says why."""

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(
            "",
            f"media store {store}: {reason}",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
        self.store = store
        self.reason = reason


class MediaStore(Protocol):
    """Where media bytes live. `staging_dir` is local disk for temp files on their way in."""

    staging_dir: Path
    # The store as KANCHA_MEDIA_URL names it, for messages.
    name: str

    async def check(self) -> None:
        """Prove the store can be written now (StoreUnavailable if not)."""
        ...

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Store the file at `path` under `key` atomically; `path` is consumed (moved)."""
        ...

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    async def exists(self, key: str) -> bool: ...

    async def fetch(self, key: str, dest: Path) -> None:
        """Copy the object to the local file `dest` (KeyError if there is none)."""
        ...

    async def delete(self, key: str) -> None: ...

    def local_path(self, key: str) -> Path | None:
        """The file to stream from, when the store is a local disk."""
        ...

    async def signed_url(self, key: str, seconds: int, content_type: str) -> str | None:
        """A presigned GET URL expiring after `seconds`, when the store is S3."""
        ...


def new_temp(directory: Path, suffix: str = ".tmp") -> Path:
    """A fresh, empty temp file in `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, suffix=suffix)
    os.close(fd)
    return Path(name)


def fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStore:
    """Objects as files under `root`; temp files in `root/.staging` (same filesystem)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging_dir = root / ".staging"
        self.name = root.as_uri() if root.is_absolute() else str(root)

    def _path(self, key: str) -> Path:
        return self.root / key

    @contextlib.contextmanager
    def _failures(self) -> Iterator[None]:
        """Disk errors (ENOSPC, EIO, EROFS, EACCES, ...) as StoreUnavailable."""
        try:
            yield
        except OSError as exc:
            raise StoreUnavailable(self.name, exc.strerror or str(exc)) from exc

    def _check(self) -> None:
        with self._failures():
            self.root.mkdir(parents=True, exist_ok=True)
            probe = new_temp(self.staging_dir, ".probe")
            try:
                probe.write_bytes(b"kancha")
                fsync_file(probe)
            finally:
                remove_quietly(probe)

    async def check(self) -> None:
        await anyio.to_thread.run_sync(self._check)

    def _install(self, key: str, path: Path) -> None:
        dest = self._path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        fsync_file(path)
        try:
            os.replace(path, dest)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # Another filesystem: copy into our own staging first, then rename.
            temp = new_temp(self.staging_dir)
            try:
                shutil.copyfile(path, temp)
                fsync_file(temp)
                os.replace(temp, dest)
            finally:
                remove_quietly(temp)
            path.unlink()
        fsync_dir(dest.parent)

    def _put_file(self, key: str, path: Path) -> None:
        with self._failures():
            self._install(key, path)

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        await anyio.to_thread.run_sync(self._put_file, key, path)

    def _put_bytes(self, key: str, data: bytes) -> None:
        with self._failures():
            temp = new_temp(self.staging_dir)
            try:
                temp.write_bytes(data)
                self._install(key, temp)
            finally:
                remove_quietly(temp)

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        await anyio.to_thread.run_sync(self._put_bytes, key, data)

    async def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def _fetch(self, key: str, dest: Path) -> None:
        try:
            with self._failures():
                try:
                    shutil.copyfile(self._path(key), dest)
                except FileNotFoundError:
                    raise KeyError(key) from None
        except StoreUnavailable:
            remove_quietly(dest)
            raise

    async def fetch(self, key: str, dest: Path) -> None:
        await anyio.to_thread.run_sync(self._fetch, key, dest)

    async def delete(self, key: str) -> None:
        with self._failures():
            self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    async def signed_url(self, key: str, seconds: int, content_type: str) -> str | None:
        return None


class S3Store:
    """Objects in `bucket` under `prefix`, through a boto3 S3 client (SigV4).

    boto3 reads the endpoint and credentials from its own standard variables; tests pass
    a client built for their local server instead.
    """

    def __init__(self, client: Any, bucket: str, prefix: str, staging_dir: Path) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.staging_dir = staging_dir
        self.name = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    @contextlib.contextmanager
    def _failures(self) -> Iterator[None]:
        """What boto3 raises when S3 is unreachable or refuses (bucket, keys) as
        StoreUnavailable; a missing object stays the caller's to handle first."""
        import boto3.exceptions
        import botocore.exceptions

        try:
            yield
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise StoreUnavailable(self.name, s3_reason(exc)) from exc
        except boto3.exceptions.Boto3Error as exc:  # upload_file wraps the ClientError
            cause = exc.__cause__ or exc.__context__
            raise StoreUnavailable(self.name, s3_reason(cause or exc)) from exc
        except OSError as exc:  # the local staging file
            raise StoreUnavailable(self.name, exc.strerror or str(exc)) from exc

    def _check(self) -> None:
        with self._failures():
            probe = new_temp(self.staging_dir, ".probe")
            remove_quietly(probe)
            self.client.head_bucket(Bucket=self.bucket)

    async def check(self) -> None:
        await anyio.to_thread.run_sync(self._check)

    def _upload(self, key: str, path: Path, content_type: str) -> None:
        # upload_file switches to multipart for big files: the object appears on completion.
        with self._failures():
            self.client.upload_file(
                str(path), self.bucket, self._key(key), ExtraArgs={"ContentType": content_type}
            )
        path.unlink(missing_ok=True)

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        await anyio.to_thread.run_sync(self._upload, key, path, content_type)

    def _put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        with self._failures():
            self.client.put_object(
                Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type
            )

    async def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        await anyio.to_thread.run_sync(self._put_bytes, key, data, content_type)

    def _exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        with self._failures():
            try:
                self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if _s3_code(exc) in ("404", "NoSuchKey", "NotFound"):
                    return False
                raise
        return True

    async def exists(self, key: str) -> bool:
        return await anyio.to_thread.run_sync(self._exists, key)

    def _fetch(self, key: str, dest: Path) -> None:
        from botocore.exceptions import ClientError

        try:
            with self._failures():
                try:
                    self.client.download_file(self.bucket, self._key(key), str(dest))
                except ClientError as exc:
                    if _s3_code(exc) in ("404", "NoSuchKey", "NotFound"):
                        raise KeyError(key) from None
                    raise
        except StoreUnavailable:
            remove_quietly(dest)
            raise

    async def fetch(self, key: str, dest: Path) -> None:
        await anyio.to_thread.run_sync(self._fetch, key, dest)

    def _delete(self, key: str) -> None:
        with self._failures():
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(self._delete, key)

    def local_path(self, key: str) -> Path | None:
        return None

    async def signed_url(self, key: str, seconds: int, content_type: str) -> str | None:
        with self._failures():  # no request is sent, but missing credentials raise here
            return self.client.generate_presigned_url(
                "get_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": self._key(key),
                    "ResponseContentType": content_type,
                },
                ExpiresIn=seconds,
            )


def _s3_code(exc: Any) -> str:
    return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))


# What S3 says, for codes whose own message (or a HEAD's lack of one) says too little.
S3_REASONS = {
    "404": "the bucket does not exist",
    "NoSuchBucket": "the bucket does not exist",
    "403": "access denied (check the access key and secret)",
    "AccessDenied": "access denied (check the access key and secret)",
    "InvalidAccessKeyId": "the access key is not known to the server",
    "SignatureDoesNotMatch": "the secret key does not match the access key",
}


def s3_reason(exc: BaseException) -> str:
    """One line saying why S3 refused or could not be reached."""
    code = _s3_code(exc)
    if code:
        message = getattr(exc, "response", {}).get("Error", {}).get("Message", "")
        return S3_REASONS.get(code) or f"{code}: {message}".rstrip(": ")
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def s3_client(**kwargs: Any) -> Any:
    """A boto3 S3 client signing with SigV4; endpoint and keys from boto3's own sources."""
    import boto3
    from botocore.config import Config

    config = Config(signature_version="s3v4")
    return boto3.session.Session().client("s3", config=config, **kwargs)


def open_store(media_url: str, staging_dir: Path, *, client: Any = None) -> MediaStore:
    """The store named by `KANCHA_MEDIA_URL`: `file:///path` or `s3://bucket/prefix`."""
    url = urlparse(media_url)
    if url.scheme == "file":
        return FileStore(Path(unquote(url.path)))
    if url.scheme == "s3" and url.netloc:
        return S3Store(client or s3_client(), url.netloc, unquote(url.path), staging_dir)
    raise ValueError(
        f"KANCHA_MEDIA_URL: expected file:///path or s3://bucket/prefix, got {media_url!r}"
    )


def remove_quietly(path: Path | None) -> None:
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
