"""``python -m shopflow.devstack.marketing_api``: run the simulator."""

from shopflow.devstack.marketing_api.server import main

raise SystemExit(main())
