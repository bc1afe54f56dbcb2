"""A local SMTP server that keeps every message as an ``.eml`` file in a mailbox directory.

Run it with ``python -m shopflow_local.devstack.smtp_sink --host 127.0.0.1 --port P --mailbox DIR``.
Files are named ``<counter>-<UTC timestamp>.eml`` (e.g. ``000001-20240301T010203123456Z.eml``),
so sorting the names gives the order of arrival. The envelope is kept in two added
headers, ``X-MailFrom`` and ``X-RcptTo``, since Bcc recipients appear nowhere else.
Lines are stored with ``\n`` endings, so parsed bodies read as Python text does.
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import errno
import re
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

NAME = re.compile(r"^(\d{6,})-\d{8}T\d{12}Z\.eml$")


def message_name(counter: int, now: datetime) -> str:
    """The file name of the counter-th message, received at now (UTC)."""
    return f"{counter:06d}-{now.astimezone(UTC):%Y%m%dT%H%M%S%fZ}.eml"


def next_counter(mailbox: Path) -> int:
    """One more than the highest counter already in mailbox (1 when empty)."""
    counters = [int(m.group(1)) for p in mailbox.glob("*.eml") if (m := NAME.match(p.name))]
    return max(counters, default=0) + 1


def mailbox_files(mailbox: Path) -> list[Path]:
    """The stored messages, oldest first."""
    if not mailbox.is_dir():
        return []
    return sorted(
        (p for p in mailbox.glob("*.eml") if NAME.match(p.name)),
        key=lambda p: (len(p.name), p.name),
    )


def read_mailbox(mailbox: Path) -> list[EmailMessage]:
    """Every stored message, parsed, oldest first."""
    return [
        message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in mailbox_files(mailbox)
    ]


def clear_mailbox(mailbox: Path) -> int:
    """Delete every stored message; return how many there were."""
    files = mailbox_files(mailbox)
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


class MailboxHandler:
    """aiosmtpd handler: writes each message atomically to the next numbered file."""

    def __init__(self, mailbox: Path) -> None:
        self.mailbox = mailbox
        self.mailbox.mkdir(parents=True, exist_ok=True)
        self.counter = next_counter(mailbox)

    def store(self, envelope: Envelope, now: datetime | None = None) -> Path:
        """Write one message with its envelope headers, LF line endings; return its path."""
        content = envelope.original_content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        headers = f"X-MailFrom: {envelope.mail_from}\nX-RcptTo: {', '.join(envelope.rcpt_tos)}\n"
        path = self.mailbox / message_name(self.counter, now or datetime.now(UTC))
        self.counter += 1
        partial = path.with_suffix(".part")
        partial.write_bytes((headers.encode("utf-8") + content).replace(b"\r\n", b"\n"))
        partial.replace(path)
        return path

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.store(envelope)
        return "250 Message accepted for delivery"


async def serve(host: str, port: int, mailbox: Path) -> None:
    """Serve SMTP on host:port until SIGTERM or SIGINT."""
    handler = MailboxHandler(mailbox)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="shopflow-smtp-sink"), host, port
    )
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        print(f"SMTP sink on {host}:{port}, mailbox {mailbox}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Store every SMTP message as an .eml file.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--mailbox", type=Path, required=True)
    args: Any = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.host, args.port, args.mailbox))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"smtp_sink: port {args.port} on {args.host} is already in use", file=sys.stderr)
        else:
            print(f"smtp_sink: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
