"""S4 writer: gzip NDJSON objects under s3://bucket/clickstream/dt=D/hour=HH/.

Object names are deterministic (part-0000.json.gz per hour) and gzip headers carry
no time, so re-generating a day rewrites identical bytes; keys under dt=D that the
new day does not have are deleted.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import date

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


def gzip_lines(lines: pa.ChunkedArray | pa.Array) -> bytes:
    """Lines joined by newlines (one after the last), gzip with a zero mtime."""
    packer = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    pieces = []
    chunks = lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        text = pc.binary_join_element_wise(chunk, "\n", "")
        offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset :]
        data = memoryview(text.buffers()[2])[offsets[0] : offsets[len(text)]]
        pieces.append(packer.compress(data))
    pieces.append(packer.flush())
    return b"".join(pieces)


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
    stale = [k for k in list_keys(endpoint, bucket, day_prefix(day)) if k not in keys]
    for start in range(0, len(stale), 1000):
        batch = [{"Key": k} for k in stale[start : start + 1000]]
        s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})  # type: ignore[typeddict-item]
    return {"objects": len(keys), "bytes": sum(sizes), "lines": lines_written}


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
