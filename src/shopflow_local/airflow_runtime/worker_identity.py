"""The host name Airflow records for a task try: the Celery worker's name on the local stack.

Airflow writes ``TaskInstance.hostname`` (shown in the UI, read by the REST API)
from ``[core] hostname_callable``, called in the process that runs the task. The
Celery stack points it at :func:`hostname` and gives each worker its own name in
``SHOPFLOW_WORKER_HOSTNAME``: two workers on one machine then show as two hosts.
Without the variable it is the machine's name, as Airflow's default.
"""

from __future__ import annotations

import os
import socket

WORKER_HOSTNAME_ENV = "SHOPFLOW_WORKER_HOSTNAME"
CALLABLE = f"{__name__}.hostname"
"""The value of ``[core] hostname_callable`` that selects :func:`hostname`."""


def hostname() -> str:
    """``$SHOPFLOW_WORKER_HOSTNAME``, else the fully qualified name of this machine."""
    return os.environ.get(WORKER_HOSTNAME_ENV, "").strip() or socket.getfqdn()
