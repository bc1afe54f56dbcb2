"""What each source holds now, for the summary table after ``generate``."""

from __future__ import annotations

from shopflow_local.devstack.generator.targets import Targets
from shopflow_local.devstack.generator.writers.catalog_dynamodb import catalog_inventory
from shopflow_local.devstack.generator.writers.clickstream_s3 import clickstream_inventory
from shopflow_local.devstack.generator.writers.interactions_files import interactions_inventory
from shopflow_local.devstack.generator.writers.sales_db import sales_counts


def inventory(targets: Targets) -> dict[str, dict[str, int]]:
    """Per source: S1 table rows, S2 day files and rows, S3 items, S4 days/objects/bytes."""
    return {
        "sales": sales_counts(targets.sales_url),
        "marketing_api": interactions_inventory(targets.api_data_dir),
        "catalog": catalog_inventory(targets.aws_dynamodb_endpoint, targets.products_table),
        "clickstream": clickstream_inventory(targets.aws_s3_endpoint, targets.bucket),
    }
