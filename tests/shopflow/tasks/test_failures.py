"""Permanent errors fail the task at once; the rest stay retryable."""

from __future__ import annotations

import gzip
import io

import pytest
from airflow.sdk.exceptions import AirflowFailException

from shopflow.errors import PermanentError, ShopflowError
from shopflow.sources import clickstream
from shopflow.sources.http_retry import RequestRejected
from shopflow.sources.result import ReconciliationError
from shopflow.tasks.failures import fail_fast
from shopflow.warehouse.errors import DeltaError, WarehouseError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "error",
    [
        PermanentError("schema mismatch"),
        ReconciliationError("rows_in 3 != 2"),
        DeltaError("delta lacks a column"),
    ],
)
def test_a_permanent_error_becomes_a_fail_exception_with_its_message(error: Exception) -> None:
    def step() -> None:
        raise error

    with pytest.raises(AirflowFailException, match=str(error)) as caught:
        fail_fast(step)()
    assert caught.value.__cause__ is error


@pytest.mark.parametrize(
    "error", [ShopflowError("timed out"), WarehouseError("connection lost"), OSError("reset")]
)
def test_other_errors_pass_unchanged_to_be_retried(error: Exception) -> None:
    def step() -> None:
        raise error

    with pytest.raises(type(error)) as caught:
        fail_fast(step)()
    assert caught.value is error


def test_a_result_passes_through() -> None:
    assert fail_fast(lambda x: x + 1)(1) == 2


def test_a_rejected_request_is_permanent() -> None:
    assert issubclass(RequestRejected, PermanentError)


class _Body(io.BytesIO):
    pass


class _S3:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def get_object(self, **_: object) -> dict[str, object]:
        return {"Body": _Body(self.data)}


@pytest.mark.parametrize(
    "data",
    [
        b"\x1f\x8b\x08\x00" + b"garbage, not deflate" * 50,
        gzip.compress(b'{"event_id": "e1"}\n' * 1000)[:-40],
    ],
    ids=["corrupt", "truncated"],
)
def test_an_unreadable_gzip_object_is_permanent(data: bytes) -> None:
    with pytest.raises(PermanentError, match="is not readable gzip"):
        for _ in clickstream.object_lines(_S3(data), "bucket", "clickstream/dt=x/a.json.gz"):  # type: ignore[arg-type]
            pass
