"""Install dynalite (the local DynamoDB) from the pinned npm lock and build its command line."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from pathlib import Path

from shopflow.errors import ShopflowError

NODE_SPEC_DIR = Path(__file__).resolve().parent.parent / "node"
"""The committed package.json and package-lock.json."""

STAMP = ".shopflow-lock.sha256"
"""Written into the install dir after a successful ``npm ci``: the hash of the lock it used."""


def lock_digest(spec_dir: Path = NODE_SPEC_DIR) -> str:
    """SHA-256 of package.json and package-lock.json together."""
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((spec_dir / name).read_bytes())
    return digest.hexdigest()


def cli_path(install_dir: Path) -> Path:
    """dynalite's entry script inside an install dir."""
    return install_dir / "node_modules" / "dynalite" / "cli.js"


def is_installed(install_dir: Path, spec_dir: Path = NODE_SPEC_DIR) -> bool:
    """True when install_dir holds dynalite installed from the current lock."""
    stamp = install_dir / STAMP
    return (
        cli_path(install_dir).is_file()
        and stamp.is_file()
        and stamp.read_text().strip() == lock_digest(spec_dir)
    )


def ensure_installed(install_dir: Path, spec_dir: Path = NODE_SPEC_DIR) -> Path:
    """``npm ci`` the pinned lock into install_dir unless already done; return the cli path."""
    install_dir.mkdir(parents=True, exist_ok=True)
    with open(install_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_installed(install_dir, spec_dir):
            _npm_ci(install_dir, spec_dir)
    return cli_path(install_dir)


def command(cli: Path, *, host: str, port: int) -> list[str]:
    """argv that serves DynamoDB in memory on host:port with instant table state changes."""
    node = shutil.which("node")
    if node is None:
        raise ShopflowError("node is not on PATH; install Node.js 20 or newer to run dynalite")
    return [
        node,
        str(cli),
        "--host",
        host,
        "--port",
        str(port),
        "--createTableMs",
        "0",
        "--deleteTableMs",
        "0",
        "--updateTableMs",
        "0",
    ]


def _npm_ci(install_dir: Path, spec_dir: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise ShopflowError("npm is not on PATH; install Node.js 20 or newer to run dynalite")
    (install_dir / STAMP).unlink(missing_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copyfile(spec_dir / name, install_dir / name)
    # Scripts stay off: classic-level ships prebuilt binaries and must never compile here.
    argv = [npm, "ci", "--prefix", str(install_dir), "--ignore-scripts", "--no-audit", "--no-fund"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = (result.stderr + result.stdout).strip().splitlines()
        errors = [line for line in lines if line.startswith(("npm error", "npm ERR!"))]
        why = (errors or lines or [f"exit code {result.returncode}"])[0]
        raise ShopflowError(f"npm ci of dynalite into {install_dir} failed: {why}")
    (install_dir / STAMP).write_text(lock_digest(spec_dir) + "\n")
