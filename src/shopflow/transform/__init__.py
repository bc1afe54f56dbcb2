"""Transform: one day's staging into warehouse deltas (DuckDB), plus the derive SQL.

Importing this package is cheap: DuckDB is only loaded by ``shopflow.transform.build``.
See ``docs/adr/0005-transform-and-derive.md`` and ``models/README.md``; "rule N" in this
package is rule N of the data contract (``docs/data-contract.md``).
"""
