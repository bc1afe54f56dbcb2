"""The CLI answers bad input with one line on stderr and a non-zero exit."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from shopflow.errors import ShopflowError
from shopflow_local import cli
from shopflow_local.airflow_runtime.follow import Progress, error_line
from shopflow_local.cli import main
from shopflow_local.devstack.process import free_port

pytestmark = pytest.mark.integration  # test_port_in_use_is_reported binds ports


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["devstack", "up", "--stack", "cloud"], "unknown stack 'cloud'"),
        (["generate", "--start", "2026-13-01"], "2026-13-01"),
        (["generate", "--start", "yesterday"], "yesterday"),
        (["run", "--date", "2026/11/20"], "2026/11/20"),
        (["generate", "--start", "2026-11-20", "--days", "0"], ">= 1"),
        (["generate", "--start", "2026-11-20", "--scale", "-1"], "scale factor"),
        (["devstack", "up", "--api-port", "70000"], "65535"),
        (["devstack", "sideways"], "invalid choice"),
        (["run"], "one of the arguments --date --start is required"),
        (["run", "--date", "2025-01-02", "--end", "2025-01-03"], "--end goes with --start"),
        (["run", "--start", "2025-01-05", "--end", "2025-01-04"], "is before --start"),
        (["backfill", "--start", "2025-01-05", "--end", "2025-01-04"], "is before --start"),
        (
            ["backfill", "--start", "2025-01-01", "--end", "2025-01-02", "--reprocess", "all"],
            "invalid choice",
        ),
        (["backfill", "--start", "2025-01-01", "--end", "2999-01-01"], "not over yet"),
        (["backfill", "--start", "2025-01-01"], "--end"),
    ],
)
def test_bad_input_is_one_line(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path, argv: list[str], needle: str
) -> None:
    code, err = _run(capsys, *argv)
    assert code != 0
    assert needle in err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_generate_needs_a_running_stack(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path
) -> None:
    code, err = _run(capsys, "generate", "--start", "2026-11-20")
    assert code == 1
    assert "not up" in err and "shopflow devstack up" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "argv",
    [["run", "--date", "2025-01-02"], ["backfill", "--start", "2025-01-02", "--end", "2025-01-03"]],
)
def test_runs_need_a_running_stack(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path, argv: list[str]
) -> None:
    code, err = _run(capsys, *argv)
    assert code == 1
    assert "not up" in err and "shopflow devstack up" in err
    assert len(err.strip().splitlines()) == 1


def test_an_unexpected_error_is_one_line_and_a_saved_traceback(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(args: object) -> int:
        raise RuntimeError("the\nbug")

    monkeypatch.setitem(cli.COMMANDS, "generate", broken)
    code, err = _run(capsys, "generate", "--start", "2025-01-02")
    assert code == 1
    assert err.strip() == (
        "shopflow: unexpected error: RuntimeError: the bug "
        f"(traceback in {shopflow_home / 'run' / 'cli-error.log'})"
    )
    saved = (shopflow_home / "run" / "cli-error.log").read_text()
    assert "Traceback" in saved and "RuntimeError: the" in saved


def test_a_multi_line_error_is_printed_as_one_line(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(args: object) -> int:
        raise ShopflowError("the run failed:\n  SELECT 1\n  FROM t")

    monkeypatch.setitem(cli.COMMANDS, "generate", failing)
    code, err = _run(capsys, "generate", "--start", "2025-01-02")
    assert code == 1
    assert err == "shopflow: error: the run failed: SELECT 1 FROM t\n"


def _ti(task_id: str, state: str | None, **extra: object) -> dict[str, object]:
    return {"task_id": task_id, "map_index": -1, "state": state, "try_number": 1, **extra}


def test_following_a_run_prints_one_line_per_change() -> None:
    progress = Progress()
    checks = [f"quality.check_{i}" for i in range(6)]
    assert progress.update([_ti("extract.a", "queued"), *[_ti(c, None) for c in checks]], 0) == []
    lines = progress.update([_ti("extract.a", "running"), *[_ti(c, None) for c in checks]], 1)
    assert len(lines) == 1 and "extract.a" in lines[0] and lines[0].endswith("running")
    assert progress.update([_ti("extract.a", "running"), *[_ti(c, None) for c in checks]], 2) == []
    done = _ti("extract.a", "success", duration=2.5)
    running = [_ti(c, "running" if i < 2 else "queued") for i, c in enumerate(checks)]
    lines = progress.update([done, *running], 3)
    assert [line.split()[1:] for line in lines] == [
        ["extract.a", "success", "2.5s"],
        ["quality", "running", "(6", "tasks)"],
    ]
    assert progress.update([done, *[_ti(c, "running") for c in checks]], 4) == []
    ended = [_ti(c, "failed" if i == 3 else "success") for i, c in enumerate(checks)]
    (line,) = progress.update([done, *ended], 5)
    assert line.split()[1:] == ["quality", "failed", "1/6", "(check_3)"]
    retry = _ti("extract.a", "up_for_retry")
    (line,) = progress.update([retry, *ended], 6)
    assert line.endswith("up_for_retry (try 1 failed)")


def test_the_error_of_a_failed_try_is_its_exception_in_one_line() -> None:
    log = [
        {"event": "starting", "level": "info"},
        {
            "event": "Task failed with exception",
            "level": "error",
            "error_detail": [
                {"exc_type": "AirflowFailException", "exc_value": "rejected (401)\nmore"},
                {"exc_type": "RequestRejected", "exc_value": "the cause"},
            ],
        },
        {"event": "callback done", "level": "info"},
    ]
    assert error_line(log) == "AirflowFailException: rejected (401)"
    assert error_line([{"event": "no DAG\nat all", "level": "error"}]) == "no DAG"
    assert error_line([{"event": "fine", "level": "info"}]) is None


def test_port_in_use_is_reported(capsys: pytest.CaptureFixture[str], shopflow_home: Path) -> None:
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen(1)
        code, err = _run(capsys, "devstack", "up", "--api-port", str(port))
    main(["devstack", "down"])
    assert code == 1
    assert f"port {port}" in err and "--api-port" in err
    assert len(err.strip().splitlines()) == 1


def test_status_of_a_stack_never_started(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path
) -> None:
    code = main(["devstack", "status"])
    out = capsys.readouterr().out
    assert code == 3
    assert out.startswith("down")
