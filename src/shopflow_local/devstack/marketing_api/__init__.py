"""The marketing-API simulator (data contract, S2): paginated interactions over HTTP, with faults.

Run it with ``python -m shopflow_local.devstack.marketing_api``; build it in-process with
:func:`build_app`.
"""

from shopflow_local.devstack.marketing_api.app import build_app
from shopflow_local.devstack.marketing_api.faults import FaultConfig

__all__ = ["FaultConfig", "build_app"]
