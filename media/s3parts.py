"""The S3 calls behind a tus upload on S3: one multipart upload per tus upload, and the
"incomplete part" objects holding a tail under S3's 5 MiB minimum part size.

All keys sit under the store's prefix in `uploads/`: the multipart object is
`uploads/<id>`, a tail `uploads/<id>.part-<offset>` (named by the offset it ends at, so a
new tail never overwrites the one the database still names). Calls are blocking boto3
run in worker threads; failures are the store's `StoreUnavailable`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio.to_thread

from media.store import S3Store, _s3_code

MiB = 1024 * 1024
# S3's smallest part but the last (tusd's MinPartSize too).
MIN_PART_BYTES = 5 * MiB
GONE_UPLOAD = ("NoSuchUpload", "404", "NotFound")


def upload_key(upload_id: str) -> str:
    return f"uploads/{upload_id}"


def tail_key(upload_id: str, offset: int) -> str:
    return f"uploads/{upload_id}.part-{offset}"


class S3Parts:
    """Multipart uploads and tail objects in one S3 store."""

    def __init__(self, store: S3Store) -> None:
        self.store = store
        self.client: Any = store.client
        self.bucket = store.bucket

    def _key(self, key: str) -> str:
        return self.store._key(key)

    async def _run(self, fn: Any, *args: Any) -> Any:
        def call() -> Any:
            with self.store._failures():
                return fn(*args)

        return await anyio.to_thread.run_sync(call)

    async def create(self, upload_id: str) -> str:
        def create() -> str:
            answer = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self._key(upload_key(upload_id))
            )
            return str(answer["UploadId"])

        return await self._run(create)

    async def upload_part(self, upload_id: str, multipart_id: str, number: int, path: Path) -> str:
        """Upload the file at `path` as part `number`; its ETag."""

        def upload() -> str:
            with open(path, "rb") as body:
                answer = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=self._key(upload_key(upload_id)),
                    UploadId=multipart_id,
                    PartNumber=number,
                    Body=body,
                    ContentLength=path.stat().st_size,
                )
            return str(answer["ETag"])

        return await self._run(upload)

    async def complete(
        self, upload_id: str, multipart_id: str, parts: list[tuple[int, str]]
    ) -> bool:
        """Assemble the listed parts (others are dropped); False if the multipart upload is
        gone already (completed before a crash, or aborted)."""
        from botocore.exceptions import ClientError

        def complete() -> bool:
            try:
                self.client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=self._key(upload_key(upload_id)),
                    UploadId=multipart_id,
                    MultipartUpload={
                        "Parts": [{"PartNumber": n, "ETag": etag} for n, etag in parts]
                    },
                )
            except ClientError as exc:
                if _s3_code(exc) in GONE_UPLOAD:
                    return False
                raise
            return True

        return await self._run(complete)

    async def abort(self, upload_id: str, multipart_id: str) -> None:
        from botocore.exceptions import ClientError

        def abort() -> None:
            try:
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=self._key(upload_key(upload_id)), UploadId=multipart_id
                )
            except ClientError as exc:
                if _s3_code(exc) not in GONE_UPLOAD:
                    raise

        await self._run(abort)

    async def put(self, key: str, path: Path) -> None:
        def put() -> None:
            with open(path, "rb") as body:
                self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=body)

        await self._run(put)

    async def fetch_into(self, key: str, path: Path) -> None:
        """The object `key` into the (new, empty) local file at `path`."""

        def fetch() -> None:
            with open(path, "wb") as f:
                self.client.download_fileobj(self.bucket, self._key(key), f)

        await self._run(fetch)

    async def delete(self, key: str) -> None:
        await self._run(lambda: self.client.delete_object(Bucket=self.bucket, Key=self._key(key)))

    async def forget(self, upload_id: str, multipart_id: str | None) -> None:
        """Abort the multipart upload and delete every object the upload left."""
        if multipart_id is not None:
            await self.abort(upload_id, multipart_id)

        def delete_all() -> None:
            prefix = self._key(upload_key(upload_id))
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", []):
                    if item["Key"] == prefix or item["Key"].startswith(f"{prefix}.part-"):
                        self.client.delete_object(Bucket=self.bucket, Key=item["Key"])

        await self._run(delete_all)


async def forget_expired(store: S3Store, uploads: list[tuple[str, str | None]]) -> None:
    """Abort the multipart uploads (and delete the tails) of expired uploads."""
    s3 = S3Parts(store)
    for upload_id, multipart_id in uploads:
        await s3.forget(upload_id, multipart_id)
