"""Thin task glue: what the DAG's tasks call. Connections are resolved here, at run time."""
