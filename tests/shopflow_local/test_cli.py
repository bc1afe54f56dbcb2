"""The CLI answers bad input with one line on stderr and a non-zero exit."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from shopflow.errors import ShopflowError
from shopflow_local import cli
from shopflow_local.cli import main
from shopflow_local.devstack.process import free_port

# Each test names its tier: unit, but for the ones that bind a port or start processes.


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse exits
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    return code, err


@pytest.mark.unit
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
        (["report"], "--date"),
        (["report", "--date", "2026/11/20"], "2026/11/20"),
        (["report", "--date", "2026-11-20", "--run-id", " "], "a run id cannot be empty"),
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


@pytest.mark.unit
def test_generate_needs_a_running_stack(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path
) -> None:
    code, err = _run(capsys, "generate", "--start", "2026-11-20")
    assert code == 1
    assert "not up" in err and "shopflow devstack up" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.unit
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


@pytest.mark.unit
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


@pytest.mark.unit
def test_a_multi_line_error_is_printed_as_one_line(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(args: object) -> int:
        raise ShopflowError("the run failed:\n  SELECT 1\n  FROM t")

    monkeypatch.setitem(cli.COMMANDS, "generate", failing)
    code, err = _run(capsys, "generate", "--start", "2025-01-02")
    assert code == 1
    assert err == "shopflow: error: the run failed: SELECT 1 FROM t\n"


@pytest.mark.integration  # binds a port; `devstack up` starts the stand-ins
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


@pytest.mark.unit
def test_status_of_a_stack_never_started(
    capsys: pytest.CaptureFixture[str], shopflow_home: Path
) -> None:
    code = main(["devstack", "status"])
    out = capsys.readouterr().out
    assert code == 3
    assert out.startswith("down")
