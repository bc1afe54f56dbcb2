"""Lineage: the warehouse tables as Airflow assets, OpenLineage datasets for every task.

``naming`` turns connections into OpenLineage dataset names (no secrets, only hosts,
ports, databases, buckets, paths and tables), ``assets`` the warehouse tables into
the assets a healthy run announces, ``datasets`` says what each task of the DAGs
reads and writes, ``quality_facets`` turns check results into data-quality facets
and ``extractor`` hands all of it to the OpenLineage provider (ADR 0009).
"""
