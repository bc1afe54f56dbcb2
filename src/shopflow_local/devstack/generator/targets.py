"""Where the generator writes each source."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Targets:
    """The four sources' locations.

    sales_url: ``sqlite:///abs/path/sales.sqlite`` or ``mysql://root@127.0.0.1:3306/shop``;
    interactions go to ``api_data_dir/interactions/dt=D.parquet``; the catalog and the
    clickstream go to the DynamoDB and S3 endpoints.
    """

    sales_url: str
    api_data_dir: Path
    aws_s3_endpoint: str
    aws_dynamodb_endpoint: str
    bucket: str
    products_table: str = "products"
