#!/usr/bin/env bash
# The same day on the LocalExecutor and on Celery (2 workers), alternating, on the
# services stack: wall time of `shopflow run --date D` and a checksum of the warehouse
# tables after each run (equal checksums: the executors leave the same warehouse).
#
#   bench/executors.sh SF [YYYY-MM-DD] [ROUNDS]
#
# Uses $SHOPFLOW_HOME (default .shopflow-bench-executors) and the services stack's
# databases (MariaDB `shop`, Postgres `shopflow` and `shopflow_airflow`): start from
# fresh ones when they hold another scale factor. `devstack down` empties the AWS
# emulators (they keep their data in memory), so the day is generated again after
# every `up`; that time is not counted. A first run (warm-up, LocalExecutor) is not
# counted either: the first run into an empty dim_customer extracts every customer.
set -euo pipefail
cd "$(dirname "$0")/.."
SF=${1:?usage: bench/executors.sh SF [YYYY-MM-DD] [ROUNDS]}
DAY=${2:-2026-11-20}
ROUNDS=${3:-2}
export SHOPFLOW_HOME=${SHOPFLOW_HOME:-.shopflow-bench-executors}
S=.venv/bin/shopflow
checksum() {
  .venv/bin/python - <<'PY'
import hashlib, json
from shopflow.warehouse.factory import warehouse_from_url
from shopflow.warehouse.tables import TABLES
from shopflow_local.devstack import stack
from shopflow_local.home import shopflow_home
wh = warehouse_from_url(stack.read_state(shopflow_home())["warehouse_url"])
sums = {
    name: wh.checksum(name, exclude=[c for c in ("run_id", "started_at", "finished_at")
                                     if c in spec.column_names])
    for name, spec in TABLES.items() if name != "load_audit"
}
print(hashlib.sha256(json.dumps(sums, sort_keys=True, default=str).encode()).hexdigest()[:16])
PY
}
up() {
  $S devstack down > /dev/null
  $S devstack up --stack services --executor "$1" > /dev/null
  $S generate --start "$DAY" --days 1 --scale "$SF" --no-progress > /dev/null
}
up local
$S run --date "$DAY" > /dev/null
echo "SF $SF, $DAY: warm-up done"
for round in $(seq "$ROUNDS"); do
  for executor in local celery; do
    up "$executor"
    started=$(date +%s.%N)
    $S run --date "$DAY" > /dev/null
    ended=$(date +%s.%N)
    printf 'round %s  %-6s  %6.1f s  load %s  tables %s\n' "$round" "$executor" \
      "$(echo "$ended - $started" | bc)" "$(cut -d' ' -f1 /proc/loadavg)" "$(checksum)"
  done
done
$S devstack down > /dev/null
