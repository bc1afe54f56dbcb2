"""The names the pipeline and its deployments share, defined once.

The DAG ids, the four sources, the ids of every Airflow connection and
variable the code reads (``docs/operations.md`` lists what each one holds),
and the pools and queue of the DAG's tasks (``docs/deployment.md``).
"""

from __future__ import annotations

DAG_ID = "shop_daily_etl"
AUDIT_DAG_ID = "shop_warehouse_audit"
"""The weekly audit: the daily DAG's column and table checks over whole tables."""

SOURCES = ("sales", "interactions", "products", "clickstream")
"""The four sources, in the DAG's order (and the order of the load audit)."""

# Airflow connections
CONN_SALES = "shop_sales"
"""S1, the sales database: mysql (or sqlite locally)."""
CONN_API = "marketing_api"
"""S2, the marketing API: http, the password is the bearer token."""
CONN_AWS = "shop_aws"
"""S3 (DynamoDB catalog) and S4 (S3 clickstream), and S3 staging: aws."""
CONN_WAREHOUSE = "shop_warehouse"
"""The warehouse: redshift, postgres or duckdb."""
CONN_SMTP = "smtp_default"
"""Where the alert e-mails go out."""

# Airflow variables
VAR_HASH_KEY = "shopflow_email_hash_key"
"""The secret key of the e-mail HMAC (data contract, rule 1)."""
VAR_STAGING_URI = "shopflow_staging_uri"
"""The staging area: an absolute local directory or ``s3://bucket/prefix``."""
VAR_BUCKET = "shopflow_bucket"
"""The clickstream bucket, when ``shop_aws`` has no ``extra.bucket``."""
VAR_ALERT_EMAILS = "shopflow_alert_emails"
"""Who gets the alerts, comma separated."""
VAR_ALERT_FROM = "shopflow_alert_from"
"""The alerts' sender address."""
VAR_TRANSFORM_MEMORY = "shopflow_transform_memory_limit"
"""DuckDB's memory budget in ``transform`` (e.g. ``1.5GB``); beyond it, it spills to disk."""
VAR_LOAD_MEMORY = "shopflow_load_memory_limit"
"""DuckDB's memory budget in ``load`` (e.g. ``1.5GB``); beyond it, it spills to disk."""

# Airflow pools and queues (slots and why: shopflow/pools.py)
POOL_SALES_DB = "shopflow_sales_db"
"""How many tasks may read the sales database at once (its connection cap): extract_sales."""
POOL_MARKETING_API = "shopflow_marketing_api"
"""How many tasks may call the marketing API at once (its rate limit): extract_interactions."""
QUEUE_HEAVY = "shopflow_heavy"
"""The queue of ``transform`` and ``load``: a Celery deployment routes it to large workers."""

DEFAULT_ALERT_EMAILS = "data-eng@example.com"
DEFAULT_ALERT_FROM = "shopflow@example.com"


def extract_task_id(source: str) -> str:
    """The Airflow task id of a source's extract (inside the ``extract`` group)."""
    return f"extract.extract_{source}"
