"""Source clients: each reads one source for a business date and stages it as Parquet.

``sales`` (S1, connectorx), ``interactions`` (S2, HTTP), ``products`` (S3, DynamoDB
scan) and ``clickstream`` (S4, S3 NDJSON): the sources S1..S4 of the data contract
(``docs/data-contract.md``). Every client returns an
:class:`~shopflow.sources.result.ExtractResult`; staging is :mod:`shopflow.staging`.
"""
