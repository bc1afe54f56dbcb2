"""The Airflow settings that turn the shopflow lineage on: extractor, transport, namespace.

Production sets the same three options in its Airflow config (``[openlineage]``
``extractors``, ``transport``, ``namespace``) with its own transport (Marquez,
DataHub...); the local Airflow writes every event as one JSON file under its home
(``events_dir``). See ``docs/lineage.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

EXTRACTOR = "shopflow.lineage.extractor.ShopflowExtractor"
LOCAL_NAMESPACE = "shopflow-local"
"""The OpenLineage namespace of the local Airflow's jobs."""


def events_dir(airflow_home: Path) -> Path:
    """Where the local Airflow's OpenLineage events go: ``<AIRFLOW_HOME>/openlineage/``."""
    return airflow_home / "openlineage"


def local_openlineage_env(airflow_home: Path) -> dict[str, str]:
    """``AIRFLOW__OPENLINEAGE__*`` of the local Airflow: a file transport, one file per event."""
    folder = events_dir(airflow_home)
    folder.mkdir(parents=True, exist_ok=True)  # the file transport does not create it
    transport = {"type": "file", "log_file_path": str(folder / "event"), "append": False}
    return {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": LOCAL_NAMESPACE,
        "AIRFLOW__OPENLINEAGE__EXTRACTORS": EXTRACTOR,
        # Emit from a thread of the task process, not a fork of it per event (the
        # provider's default): about 1.5 s less per task on a small machine.
        "AIRFLOW__OPENLINEAGE__EXECUTE_IN_THREAD": "True",
    }
