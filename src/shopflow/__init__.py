"""shopflow: the daily e-commerce ETL pipeline on Apache Airflow 3."""

__version__ = "0.1.0"
