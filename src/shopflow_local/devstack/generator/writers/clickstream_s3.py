"""S4 writer: gzip NDJSON objects under s3://bucket/clickstream/dt=D/hour=HH/.

Object names are deterministic (part-0000.json.gz per hour) and gzip headers carry
no time, so re-generating a day rewrites identical bytes; keys under dt=D that the
new day does not have are deleted.
"""

from __future__ import annotations

import zlib
from collections import deque
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shopflow_local.devstack.generator.writers.aws import s3_client

PREFIX = "clickstream"
GZIP_LEVEL = 1
"""Fast gzip: about 8x smaller than the JSON and 3x faster to write than level 6."""
WORKERS = 4


def day_prefix(day: date) -> str:
    """clickstream/dt=D/."""
    return f"{PREFIX}/dt={day.isoformat()}/"


def object_key(day: date, hour: int) -> str:
    """The one object of an hour."""
    return f"{day_prefix(day)}hour={hour:02d}/part-0000.json.gz"


def gzip_packer() -> Any:
    """A gzip stream (zero mtime, so the same lines give the same bytes)."""
    return zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)


def pack_lines(packer: Any, lines: pa.ChunkedArray | pa.Array) -> list[bytes]:
    """Feed lines to a gzip stream, each followed by a newline; the bytes it gave out."""
    pieces = []
    chunks = lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        text = pc.binary_join_element_wise(chunk, "\n", "")
        offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset :]
        data = memoryview(text.buffers()[2])[offsets[0] : offsets[len(text)]]
        pieces.append(packer.compress(data))
    return pieces


def gzip_lines(lines: pa.ChunkedArray | pa.Array) -> bytes:
    """Lines joined by newlines (one after the last), gzip with a zero mtime."""
    packer = gzip_packer()
    return b"".join([*pack_lines(packer, lines), packer.flush()])


def hour_files(day: date, lines: pa.Table) -> dict[str, pa.ChunkedArray]:
    """Key -> lines of that object, keeping the table's order within each hour."""
    hours = lines.column("file_hour").to_numpy()
    column = lines.column("line")
    files = {}
    for hour in np.unique(hours).tolist():
        rows = np.flatnonzero(hours == hour)
        breaks = np.flatnonzero(np.diff(rows) != 1) + 1
        runs = [column.slice(int(run[0]), len(run)) for run in np.split(rows, breaks)]
        files[object_key(day, hour)] = pa.chunked_array(
            [c for run in runs for c in run.chunks], pa.string()
        )
    return files


def write_clickstream(endpoint: str, bucket: str, day: date, lines: pa.Table) -> dict[str, int]:
    """Replace everything under dt=D with the day's hour files; objects and bytes written."""
    return write_hour_files(endpoint, bucket, day, hour_files(day, lines).items())


def write_hour_files(
    endpoint: str, bucket: str, day: date, files: Iterable[tuple[str, pa.ChunkedArray]]
) -> dict[str, int]:
    """Replace everything under dt=D with files (key, lines), taken one at a time as
    they come, at most WORKERS in flight; objects and bytes written, lines in ``lines``."""
    s3 = s3_client(endpoint)

    def put(key: str, lines: pa.ChunkedArray) -> int:
        body = gzip_lines(lines)
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson")
        return len(body)

    keys: set[str] = set()
    sizes: list[int] = []
    lines_written = 0
    with ThreadPoolExecutor(WORKERS) as pool:
        running: set[Future[int]] = set()
        for key, lines in files:
            if len(running) >= WORKERS:
                done, running = wait(running, return_when=FIRST_COMPLETED)
                sizes += [future.result() for future in done]
            keys.add(key)
            lines_written += len(lines)
            running.add(pool.submit(put, key, lines))
        sizes += [future.result() for future in running]
    _delete_stale(endpoint, bucket, day, keys)
    return {"objects": len(keys), "bytes": sum(sizes), "lines": lines_written}


PENDING_PIECES = 2
"""Pieces of lines waiting for the gzip thread: bounds the memory of streamed writes."""


def write_hour_pieces(
    endpoint: str, bucket: str, day: date, pieces: Iterable[tuple[int, pa.ChunkedArray]]
) -> dict[str, int]:
    """``write_hour_files`` from (hour, lines) pieces in hour order, an hour's pieces one
    after the other: a helper thread gzips each piece as it comes (while the next one is
    made), so only the gzip bytes of an hour and PENDING_PIECES pieces are held."""
    s3 = s3_client(endpoint)
    sizes: list[int] = []
    keys: list[str] = []
    lines_written = 0

    def put(key: str, body: bytes) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/x-ndjson")
        sizes.append(len(body))

    with ThreadPoolExecutor(1) as packing, ThreadPoolExecutor(WORKERS) as uploads:
        queued: deque[Future[Any]] = deque()
        put_calls: list[Future[None]] = []

        def pack_into(packer: Any, lines: pa.ChunkedArray, out: list[bytes]) -> None:
            out.extend(pack_lines(packer, lines))

        def finish(key: str, packer: Any, out: list[bytes]) -> None:
            out.append(packer.flush())
            put_calls.append(uploads.submit(put, key, b"".join(out)))

        def close_current() -> None:
            if keys:
                queued.append(packing.submit(finish, keys[-1], packer, out))

        packer: Any = None
        out: list[bytes] = []
        for hour, lines in pieces:
            key = object_key(day, hour)
            if not keys or keys[-1] != key:
                close_current()
                packer, out = gzip_packer(), []
                keys.append(key)
            lines_written += len(lines)
            queued.append(packing.submit(pack_into, packer, lines, out))
            del lines
            while len(queued) > PENDING_PIECES:
                queued.popleft().result()
        close_current()
        for future in queued:
            future.result()
        queued.clear()
        for call in list(put_calls):
            call.result()
    _delete_stale(endpoint, bucket, day, set(keys))
    return {"objects": len(keys), "bytes": sum(sizes), "lines": lines_written}


def _delete_stale(endpoint: str, bucket: str, day: date, keys: set[str]) -> None:
    """Delete the keys under dt=D that are not in keys."""
    s3 = s3_client(endpoint)
    stale = [k for k in list_keys(endpoint, bucket, day_prefix(day)) if k not in keys]
    for start in range(0, len(stale), 1000):
        batch = [{"Key": k} for k in stale[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})  # type: ignore[typeddict-item]


def list_keys(endpoint: str, bucket: str, prefix: str) -> list[str]:
    """Every key under prefix."""
    return [key for key, _ in list_objects(endpoint, bucket, prefix)]


def list_objects(endpoint: str, bucket: str, prefix: str) -> list[tuple[str, int]]:
    """(key, size) of every object under prefix."""
    s3 = s3_client(endpoint)
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += [(obj["Key"], obj["Size"]) for obj in page.get("Contents", [])]
    return found


def clickstream_inventory(endpoint: str, bucket: str) -> dict[str, int]:
    """Days, objects and bytes under clickstream/."""
    objects = list_objects(endpoint, bucket, f"{PREFIX}/")
    days = {key.split("/")[1] for key, _ in objects}
    return {"days": len(days), "objects": len(objects), "bytes": sum(s for _, s in objects)}
