"""``python -m shopflow_local.devstack.marketing_api``: run the simulator."""

from shopflow_local.devstack.marketing_api.server import main

raise SystemExit(main())
