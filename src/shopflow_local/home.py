"""Where shopflow keeps its local state: ``$SHOPFLOW_HOME``, default ``.shopflow/``."""

from __future__ import annotations

import os
from pathlib import Path


def shopflow_home() -> Path:
    """The state directory; created on first use."""
    home = Path(os.environ.get("SHOPFLOW_HOME") or Path.cwd() / ".shopflow").resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home
