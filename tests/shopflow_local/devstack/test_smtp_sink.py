"""The SMTP sink as a real background server: smtplib in, .eml files out."""

from __future__ import annotations

import os
import smtplib
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

import shopflow
from shopflow_local.devstack.process import (
    free_port,
    port_open,
    python_module,
    read_pid,
    start_background,
    stop_background,
    wait_for_port,
)
from shopflow_local.devstack.smtp_sink import clear_mailbox, read_mailbox

pytestmark = pytest.mark.integration

SRC = Path(shopflow.__file__).resolve().parents[1]
ENV = {"PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}


@dataclass
class Sink:
    port: int
    mailbox: Path
    run_dir: Path


def sink_argv(port: int, mailbox: Path) -> list[str]:
    return python_module(
        "shopflow_local.devstack.smtp_sink",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--mailbox",
        str(mailbox),
    )


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[Sink]:
    port, run_dir, mailbox = free_port(), tmp_path / "run", tmp_path / "mailbox"
    start_background("smtp", sink_argv(port, mailbox), run_dir=run_dir, env=ENV)
    try:
        wait_for_port(port)
        yield Sink(port, mailbox, run_dir)
    finally:
        stop_background("smtp", run_dir=run_dir)


def alert(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = "airflow@shopflow.local"
    message["To"] = "oncall@shopflow.local"
    message.set_content("Task check_quality failed.\n.a line starting with a dot\n")
    return message


def test_messages_arrive_in_order_with_headers_intact(sink: Sink) -> None:
    with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as smtp:
        smtp.send_message(alert("shop_daily_etl failed for 2024-03-01"))
        smtp.send_message(
            alert("shop_daily_etl failed for 2024-03-02"),
            to_addrs=["oncall@shopflow.local", "hidden@shopflow.local"],
        )

    first, second = read_mailbox(sink.mailbox)
    assert first["Subject"] == "shop_daily_etl failed for 2024-03-01"
    assert first["From"] == "airflow@shopflow.local"
    assert first["To"] == "oncall@shopflow.local"
    assert first.get_content() == "Task check_quality failed.\n.a line starting with a dot\n"
    assert second["Subject"] == "shop_daily_etl failed for 2024-03-02"
    assert second["X-RcptTo"] == "oncall@shopflow.local, hidden@shopflow.local"

    assert clear_mailbox(sink.mailbox) == 2
    assert read_mailbox(sink.mailbox) == []


def test_busy_port_is_a_one_line_error(sink: Sink, tmp_path: Path) -> None:
    result = subprocess.run(
        sink_argv(sink.port, tmp_path / "other"),
        capture_output=True,
        text=True,
        env={**os.environ, **ENV},
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.strip() == f"smtp_sink: port {sink.port} on 127.0.0.1 is already in use"


def test_stop_leaves_no_process(sink: Sink) -> None:
    pid = read_pid(sink.run_dir / "smtp.pid")
    assert pid is not None and os.getsid(pid) == pid  # own session: outlives its parent

    assert stop_background("smtp", run_dir=sink.run_dir)
    assert read_pid(sink.run_dir / "smtp.pid") is None
    assert not port_open(sink.port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
