"""Where the Task SDK looked for a missing connection or variable, for the task's error.

A missing connection or required variable is a ``PermanentError`` (the task fails at
once) that names every place the SDK looked, in its order: a configured secrets
backend (e.g. ``secret 'shopflow/connections/marketing_api' in SecretsManagerBackend``),
then ``AIRFLOW_CONN_<ID>``/``AIRFLOW_VAR_<KEY>``, then the metadata DB. Never a value.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from shopflow.errors import PermanentError, ShopflowError

DOCS = "docs/operations.md"
Kind = Literal["connection", "variable"]
_METADATA_BACKENDS = ("ExecutionAPISecretsBackend", "MetastoreBackend")
_BUILTIN_BACKENDS = ("EnvironmentVariablesBackend", *_METADATA_BACKENDS)


def secrets_backends() -> list[Any]:
    """The Task SDK's secrets backends of this process, in lookup order ([] if unknown).

    A backend configured under ``[workers] secrets_backend`` (else ``[secrets] backend``)
    comes first, then the environment, then the metadata DB (through the Execution API).
    """
    try:
        from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded

        return list(ensure_secrets_backend_loaded())
    except Exception:  # a broken backend configuration already failed the lookup itself
        return []


def lookup_place(backend: Any, kind: Kind, key: str) -> str | None:
    """Where backend looks for key (a secret name, an env variable, the metadata DB); None
    when it is not asked for it (no prefix for that kind, or a lookup pattern that excludes it)."""
    name = type(backend).__name__
    if name == "EnvironmentVariablesBackend":
        return f"AIRFLOW_{'CONN' if kind == 'connection' else 'VAR'}_{key.upper()}"
    if name in _METADATA_BACKENDS:
        return "the metadata DB"
    prefix_attr = "connections_prefix" if kind == "connection" else "variables_prefix"
    if not hasattr(backend, prefix_attr):
        return name
    prefix = getattr(backend, prefix_attr)
    pattern = getattr(backend, prefix_attr.replace("prefix", "lookup_pattern"), None)
    if prefix is None or (pattern and not re.match(pattern, key, re.IGNORECASE)):
        return None
    path = backend.build_path(prefix, key, getattr(backend, "sep", "/")) if prefix else key
    return f"secret {path!r} in {name}"


def not_found(kind: Kind, key: str, what: str | None = None) -> ShopflowError:
    """The error for a connection/variable that no backend returned, naming where it was looked.

    Permanent (the task fails without spending retries), unless a configured backend
    fails when asked again (unreachable, access denied): then a ``ShopflowError``, retried.
    Never contains a value.
    """
    backends = secrets_backends()
    label = f"Airflow connection {key!r}" if kind == "connection" else f"Airflow Variable {key}"
    for backend in backends:
        trouble = _backend_trouble(backend, kind, key, label)
        if trouble is not None:
            return trouble
    places = [place for b in backends if (place := lookup_place(b, kind, key))]
    state = "is not defined" if kind == "connection" else "is not set"
    detail = f" ({what})" if what else ""
    looked = f": looked up {', then '.join(places)}" if places else ""
    return PermanentError(f"{label} {state}{detail}{looked} ({DOCS})")


def _backend_trouble(backend: Any, kind: Kind, key: str, label: str) -> ShopflowError | None:
    """Ask a configured (not built-in) backend again: why it returned nothing, None if absent.

    The SDK skips a backend that raises (the store unreachable, a secret that does not
    parse) as if the secret were missing; this tells those cases apart.
    """
    place = lookup_place(backend, kind, key)
    if type(backend).__name__ in _BUILTIN_BACKENDS or place is None:
        return None
    try:
        value = backend.get_conn_value(key) if kind == "connection" else backend.get_variable(key)
    except NotImplementedError:  # a backend that overrides get_connection only
        return None
    except ValueError:  # a JSON secret that does not parse
        value = ""
    except Exception as exc:
        return ShopflowError(
            f"{label} could not be read: {place} failed ({type(exc).__name__}); the task retries"
        )
    if value is None:
        return None
    if kind == "connection":
        return PermanentError(
            f"{label} is not a valid connection: {place} holds neither Airflow's connection "
            f"JSON nor a URI ({DOCS})"
        )
    return ShopflowError(f"{label} was not readable at first from {place}; the task retries")
