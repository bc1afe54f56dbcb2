"""The CLI answers bad input with one line on stderr and a non-zero exit."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from shopflow_local.cli import main
from shopflow_local.devstack.process import free_port

pytestmark = pytest.mark.unit


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
