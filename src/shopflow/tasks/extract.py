"""Extract task glue: resolve connections, run one source client, log and return its summary.

Each function is what an Airflow task calls: it takes the business date (a ``date``
or its ISO text), returns ``ExtractResult.to_dict()`` (small and JSON-able, for
XCom) and logs one summary line per source. Secrets stay inside the clients.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from shopflow.dates import as_date
from shopflow.sources.result import ExtractResult
from shopflow.tasks import connections
from shopflow.tasks.failures import fail_fast

log = logging.getLogger(__name__)

SALES_PARTITIONS = {"sqlite": 2, "mysql": 1}
"""connectorx reads per large sales table, by dialect. Measured on 2 cores at SF1
(bench/extract_throughput.py): SQLite 2.1 s -> 1.15 s with 2; a local MariaDB
0.96 s with 1 and 1.25 s with 2, the server sharing the cores. A remote MySQL with
cores of its own may gain from more."""
PRODUCT_SEGMENTS = 4
"""Parallel DynamoDB scan segments (one thread each)."""
API_SLICES = 8
API_CONCURRENCY = 4
API_LIMIT = 1000


def _done(result: ExtractResult) -> dict[str, Any]:
    log.info("extract %s", result.summary())
    return result.to_dict()


def _customers_need_full_refresh(full_refresh: bool) -> bool:
    """Whether run D extracts every customer (data contract, S1): when asked, or when
    the warehouse's ``dim_customer`` is empty."""
    if full_refresh:
        return True
    from shopflow.tasks.load import customers_table_empty

    return customers_table_empty()


@fail_fast
def extract_sales(
    business_date: date | str, full_refresh: bool = False, run_id: str | None = None
) -> dict[str, Any]:
    """Stage the sales tables of the day from ``shop_sales``."""
    from shopflow.sources import sales

    url = connections.resolve_sales_url()
    result = sales.extract_sales(
        as_date(business_date),
        url=url,
        staging=connections.resolve_staging(),
        customers_full_refresh=_customers_need_full_refresh(full_refresh),
        run_id=run_id,
        partition_num=SALES_PARTITIONS[sales.dialect_of(url)],
    )
    return _done(result)


@fail_fast
def extract_products(business_date: date | str, run_id: str | None = None) -> dict[str, Any]:
    """Stage a snapshot of the DynamoDB catalog from ``shop_aws``."""
    from shopflow.sources import products

    aws = connections.resolve_aws()
    result = products.extract_products(
        as_date(business_date),
        dynamodb=aws.dynamodb(pool=PRODUCT_SEGMENTS * 2),
        staging=connections.resolve_staging(aws),
        table=aws.products_table,
        segments=PRODUCT_SEGMENTS,
        run_id=run_id,
    )
    return _done(result)


@fail_fast
def extract_clickstream(business_date: date | str, run_id: str | None = None) -> dict[str, Any]:
    """Stage the clickstream objects of the day from the ``shop_aws`` bucket."""
    from shopflow.sources import clickstream

    aws = connections.resolve_aws()
    result = clickstream.extract_clickstream(
        as_date(business_date),
        s3=aws.s3(),
        bucket=aws.require_bucket(),
        staging=connections.resolve_staging(aws),
        run_id=run_id,
    )
    return _done(result)


@fail_fast
def extract_interactions(business_date: date | str, run_id: str | None = None) -> dict[str, Any]:
    """Stage the marketing-API interactions of the day from ``marketing_api``."""
    from shopflow.sources import interactions

    api = connections.resolve_api()
    result = interactions.extract_interactions(
        as_date(business_date),
        base_url=api.base_url,
        token=api.token,
        staging=connections.resolve_staging(),
        slices=API_SLICES,
        limit=API_LIMIT,
        concurrency=API_CONCURRENCY,
        run_id=run_id,
    )
    return _done(result)
