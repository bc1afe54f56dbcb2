"""`shopflow report`: a stored run report of a date printed again, with its page as a local file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from shopflow.run_report import page_key, report_key, report_lines
from shopflow.run_report_page import report_page
from shopflow.staging import Staging
from shopflow_local import dag_runs
from shopflow_local.cli import main
from shopflow_local.devstack import stack
from shopflow_local.devstack.config import StackConfig

pytestmark = pytest.mark.unit  # staging is a temp directory or moto's in-process S3

DAY = date(2026, 11, 22)
SCHEDULED = "manual__2026-11-23T01:00:00+00:00"  # a run id that is not a safe key as it is
TRIGGERED = "shopflow_2026-11-22_20261123T100000"


def _report(
    run_id: str, written_at: str, *, failed: str | None = None, day: date = DAY
) -> dict[str, Any]:
    checks = [{"name": "orders_not_empty", "status": "pass"}, {"name": "share", "status": "warn"}]
    if failed:
        checks.append({"name": failed, "status": "fail"})
    return {
        "business_date": day.isoformat(),
        "run_id": run_id,
        "written_at": written_at,
        "sources": {"sales": {"rows": 120, "seconds": 0.4}},
        "audit": [
            {
                "source": "sales",
                "rows_in": 1200,
                "rows_loaded": 1190,
                "rows_duplicate": 7,
                "rows_quarantined": 3,
            },
        ],
        "load": {"seconds": {"total": 2.25}},
        "checks": checks,
    }


def _store(staging: Staging, body: dict[str, Any], *, page: bool = True) -> None:
    """What the report task stores: the JSON and, beside it, the page."""
    day = date.fromisoformat(body["business_date"])
    staging.put_document(report_key(day, body["run_id"]), json.dumps(body).encode())
    if page:
        staging.put_document(page_key(day, body["run_id"]), report_page(body).encode())


def _stack(home: Path, name: str) -> dict[str, Any]:
    """The description `devstack up` leaves in $SHOPFLOW_HOME, nothing started."""
    info = stack.describe(StackConfig(home=home, stack=name))
    (home / stack.STATE_FILE).write_text(json.dumps(info))
    return info


def _report_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    code = main(["report", *argv])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


@pytest.fixture
def embedded(shopflow_home: Path) -> Staging:
    """An embedded stack's staging directory with two reports of DAY and one of the day after."""
    staging = Staging.from_uri(_stack(shopflow_home, "embedded")["staging_uri"])
    # the latest by written_at sorts first by key: the choice is by time, not by name
    _store(staging, _report(TRIGGERED, "2026-11-23T10:00:05+00:00", failed="revenue_matches"))
    _store(staging, _report(SCHEDULED, "2026-11-23T11:30:00+00:00"))
    _store(
        staging,
        _report("shopflow_2026-11-23_x", "2026-11-24T09:00:00+00:00", day=date(2026, 11, 23)),
    )
    half_written = shopflow_home / "staging" / "reports" / f"dt={DAY}" / ".tmp-abc.json"
    half_written.write_text("{")
    return staging


def test_the_latest_report_of_the_date_is_printed_with_its_page(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path, embedded: Staging
) -> None:
    code, out, err = _report_cli(capsys, "--date", DAY.isoformat())
    assert (code, err) == (0, "")
    body = _report(SCHEDULED, "2026-11-23T11:30:00+00:00")
    page = (
        shopflow_home
        / "staging"
        / "reports"
        / f"dt={DAY}"
        / ("manual__2026-11-23T01_00_00_00_00.html")
    )
    assert out == [
        f"shop_daily_etl 2026-11-22: run {SCHEDULED}, report written 2026-11-23T11:30:00+00:00",
        *report_lines(body),
        f"  report: {embedded.document_uri(report_key(DAY, SCHEDULED))}",
        f"  page:   {page}",
        f"  other runs of 2026-11-22 (--run-id), latest first: {TRIGGERED}",
    ]
    assert " ".join(out[1].split()) == "sales in 1,200 loaded 1,190 duplicate 7 quarantined 3"
    assert out[2] == "  checks: 1 passed, 1 warnings (share), 0 failed"
    assert page.read_text() == report_page(body)


def test_a_named_run_is_printed_instead(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path, embedded: Staging
) -> None:
    code, out, err = _report_cli(capsys, "--date", DAY.isoformat(), "--run-id", TRIGGERED)
    assert (code, err) == (0, "")
    assert out[0].startswith(f"shop_daily_etl 2026-11-22: run {TRIGGERED}, report written")
    assert "  checks: 1 passed, 1 warnings (share), 1 failed (revenue_matches)" in out
    assert out[-2] == f"  page:   {shopflow_home / 'staging' / page_key(DAY, TRIGGERED)}"
    assert out[-1] == f"  other runs of 2026-11-22 (--run-id), latest first: {SCHEDULED}"


def test_a_report_without_a_page_says_so(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path
) -> None:
    staging = Staging.from_uri(_stack(shopflow_home, "embedded")["staging_uri"])
    _store(staging, _report(TRIGGERED, "2026-11-23T10:00:05+00:00"), page=False)
    code, out, _ = _report_cli(capsys, "--date", DAY.isoformat())
    assert code == 0
    assert out[-1] == "  page:   none stored with this report"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--date", "2026-11-21"], "no run report for 2026-11-21 in "),
        (["--date", DAY.isoformat(), "--run-id", "nope"], "no run report of run nope for"),
    ],
)
def test_a_missing_report_is_one_line(
    capsys: pytest.CaptureFixture[str], embedded: Staging, argv: list[str], needle: str
) -> None:
    code, out, err = _report_cli(capsys, *argv)
    assert code == 1 and out == []
    assert err.startswith(f"shopflow: error: {needle}")
    assert len(err.strip().splitlines()) == 1
    if "--run-id" in argv:  # names the runs that have a report
        assert f"reports of that date: {TRIGGERED}, {SCHEDULED})" in err


def test_without_a_stack_there_is_one_line(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path
) -> None:
    code, out, err = _report_cli(capsys, "--date", DAY.isoformat())
    assert code == 1 and out == []
    assert err == (
        f"shopflow: error: no stack was started in {shopflow_home}; "
        "run `shopflow devstack up` first\n"
    )


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's in-process S3 in place of the stack's emulator client."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        monkeypatch.setattr(dag_runs, "aws_client", lambda service, endpoint: client)
        yield client


def test_a_report_on_s3_has_its_page_downloaded_into_the_home(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path, s3: Any
) -> None:
    info = _stack(shopflow_home, "services")
    s3.create_bucket(Bucket=info["bucket"])
    staging = Staging.from_uri(info["staging_uri"], s3=s3)
    _store(staging, _report(SCHEDULED, "2026-11-23T11:30:00+00:00"))
    code, out, err = _report_cli(capsys, "--date", DAY.isoformat())
    assert (code, err) == (0, "")
    local = shopflow_home / "reports" / f"dt={DAY}" / "manual__2026-11-23T01_00_00_00_00.html"
    assert out[-2:] == [
        f"  report: s3://{info['bucket']}/staging/{report_key(DAY, SCHEDULED)}",
        f"  page:   {local}",
    ]
    assert local.read_text() == report_page(_report(SCHEDULED, "2026-11-23T11:30:00+00:00"))


def test_an_unreadable_bucket_is_one_line(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path, s3: Any
) -> None:
    _stack(shopflow_home, "services")  # its bucket was never made
    code, out, err = _report_cli(capsys, "--date", DAY.isoformat())
    assert code == 1 and out == []
    assert err.startswith("shopflow: error: cannot read the run reports in s3://shopflow-local/")
    assert "NoSuchBucket" in err and "shopflow devstack status" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
