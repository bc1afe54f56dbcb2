"""The SMTP sink's mailbox: file names, storing, reading and clearing (no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiosmtpd.smtp import Envelope

from shopflow_local.devstack.smtp_sink import (
    MailboxHandler,
    clear_mailbox,
    mailbox_files,
    message_name,
    next_counter,
    read_mailbox,
)

pytestmark = pytest.mark.unit

RAW = (
    b"From: airflow@shopflow.local\r\n"
    b"To: oncall@shopflow.local\r\n"
    b"Subject: shop_daily_etl failed for 2024-03-01\r\n"
    b"\r\n"
    b"check quality failed\r\n"
    b"second line\r\n"
)


def envelope(raw: bytes = RAW) -> Envelope:
    env = Envelope()
    env.mail_from = "airflow@shopflow.local"
    env.rcpt_tos = ["oncall@shopflow.local", "audit@shopflow.local"]
    env.original_content = raw
    env.content = raw
    return env


def test_message_name_is_counter_then_utc_timestamp() -> None:
    cet = timezone(timedelta(hours=1))
    when = datetime(2024, 3, 1, 2, 3, 4, 56, tzinfo=cet)
    assert message_name(7, when) == "000007-20240301T010304000056Z.eml"


def test_next_counter_continues_after_the_highest_stored(tmp_path: Path) -> None:
    assert next_counter(tmp_path) == 1
    for name in ("000003-20240301T000000000000Z.eml", "000010-20240301T000000000000Z.eml"):
        (tmp_path / name).write_bytes(RAW)
    (tmp_path / "000099-notes.txt").write_text("not a message")
    assert next_counter(tmp_path) == 11


def test_store_keeps_message_and_envelope_with_lf_endings(tmp_path: Path) -> None:
    handler = MailboxHandler(tmp_path / "mail")
    path = handler.store(envelope(), now=datetime(2024, 3, 2, 1, 0, tzinfo=UTC))

    assert path.name == "000001-20240302T010000000000Z.eml"
    assert b"\r\n" not in path.read_bytes()
    [message] = read_mailbox(tmp_path / "mail")
    assert message["Subject"] == "shop_daily_etl failed for 2024-03-01"
    assert message["From"] == "airflow@shopflow.local"
    assert message["To"] == "oncall@shopflow.local"
    assert message["X-MailFrom"] == "airflow@shopflow.local"
    assert message["X-RcptTo"] == "oncall@shopflow.local, audit@shopflow.local"
    assert message.get_content() == "check quality failed\nsecond line\n"
    assert not list((tmp_path / "mail").glob("*.part"))


def test_read_mailbox_is_oldest_first_past_six_digits(tmp_path: Path) -> None:
    handler = MailboxHandler(tmp_path)
    handler.counter = 999_999
    when = datetime(2024, 3, 2, tzinfo=UTC)
    for subject in ("first", "second", "third"):
        raw = RAW.replace(b"shop_daily_etl failed for 2024-03-01", subject.encode())
        handler.store(envelope(raw), now=when)
        when -= timedelta(seconds=1)  # a clock step back must not reorder messages

    assert [m["Subject"] for m in read_mailbox(tmp_path)] == ["first", "second", "third"]
    assert mailbox_files(tmp_path)[-1].name.startswith("1000001-")


def test_a_new_handler_does_not_overwrite_stored_messages(tmp_path: Path) -> None:
    MailboxHandler(tmp_path).store(envelope())
    second = MailboxHandler(tmp_path).store(envelope())
    assert second.name.startswith("000002-")
    assert len(read_mailbox(tmp_path)) == 2


def test_clear_mailbox_removes_only_messages(tmp_path: Path) -> None:
    handler = MailboxHandler(tmp_path)
    handler.store(envelope())
    handler.store(envelope())
    (tmp_path / "keep.txt").write_text("x")

    assert clear_mailbox(tmp_path) == 2
    assert read_mailbox(tmp_path) == []
    assert (tmp_path / "keep.txt").exists()


def test_missing_mailbox_reads_empty(tmp_path: Path) -> None:
    assert read_mailbox(tmp_path / "absent") == []
    assert clear_mailbox(tmp_path / "absent") == 0
