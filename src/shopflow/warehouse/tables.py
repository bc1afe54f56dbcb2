"""The warehouse tables, declared once: columns, logical types, keys, upkeep.

They are the tables of the data contract (``docs/data-contract.md``, "Warehouse").

Every dialect derives its DDL and merge statements from these declarations, and
the transform produces delta tables with exactly these columns. Logical types:

``bigint``, ``int``, ``text``, ``bool``, ``date``, ``timestamp`` (UTC, microseconds),
``decimal(p,s)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

SCHEMA = "analytics"


class Upkeep(Enum):
    """How a load changes a table."""

    UPSERT_NEWEST = "upsert, newest updated_at wins"
    SNAPSHOT = "upsert from a full snapshot; rows missing from it become inactive"
    INSERT_NEW = "insert new keys only"
    REBUILD = "rebuilt for the keys a run touches"
    REPLACE_PARTITION = "replaced per (source, business_date)"
    APPEND_PER_RUN = "one row per key per run"


@dataclass(frozen=True)
class Column:
    """A column and its logical type."""

    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class Index:
    """A secondary index (Postgres; DuckDB and Redshift rely on sort order instead).

    Declared only where a plan of the load or of a check shows it turns a scan of the
    whole table into a look-up of the day's rows.
    """

    columns: tuple[str, ...]


@dataclass(frozen=True)
class TableSpec:
    """One warehouse table."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    upkeep: Upkeep
    distkey: str | None = None
    sortkey: tuple[str, ...] = ()
    indexes: tuple[Index, ...] = ()

    @property
    def column_names(self) -> list[str]:
        """Column names in declaration order."""
        return [c.name for c in self.columns]

    @property
    def qualified(self) -> str:
        """schema.table"""
        return f"{SCHEMA}.{self.name}"


def _cols(spec: str) -> tuple[Column, ...]:
    """Parse 'name type [not null], ...' into columns."""
    out = []
    for part in spec.split(";"):
        words = part.split()
        if not words:
            continue
        nullable = not (len(words) > 2 and words[-2:] == ["not", "null"])
        out.append(Column(words[0], words[1], nullable))
    return tuple(out)


MONEY = "decimal(18,2)"
RATE = "decimal(18,8)"

DIM_CUSTOMER = TableSpec(
    "dim_customer",
    _cols(
        "customer_id bigint not null; email_hash text not null; country text;"
        "created_at timestamp; updated_at timestamp not null"
    ),
    key=("customer_id",),
    upkeep=Upkeep.UPSERT_NEWEST,
    distkey="customer_id",
    sortkey=("customer_id",),
    indexes=(Index(("email_hash",)),),  # derive 10: rule 3's customers of the candidates
)
DIM_PRODUCT = TableSpec(
    "dim_product",
    _cols(
        "product_id text not null; sku text; name text; category text; brand text;"
        f"price {MONEY}; currency text; active bool not null; updated_at timestamp"
    ),
    key=("product_id",),
    upkeep=Upkeep.SNAPSHOT,
    sortkey=("product_id",),
)
FCT_ORDER_LINE = TableSpec(
    "fct_order_line",
    _cols(
        "order_id bigint not null; line_no int not null; order_date date not null;"
        "order_ts timestamp not null; customer_id bigint not null; product_id text;"
        "status text not null; quantity int not null; unit_price decimal(12,2) not null;"
        f"currency text not null; fx_rate {RATE}; line_revenue_usd {MONEY};"
        "updated_at timestamp not null"
    ),
    key=("order_id", "line_no"),
    upkeep=Upkeep.UPSERT_NEWEST,
    distkey="customer_id",
    sortkey=("order_date",),
    # derive 50 and the checks read the lines of a few order dates, and of D's updates
    indexes=(Index(("order_date",)), Index(("updated_at",))),
)
FCT_INTERACTION = TableSpec(
    "fct_interaction",
    _cols(
        "interaction_id text not null; email_hash text not null; customer_id bigint;"
        "occurred_at timestamp not null; interaction_date date not null; type text not null;"
        "channel text; campaign_id text"
    ),
    key=("interaction_id",),
    upkeep=Upkeep.INSERT_NEW,
    sortkey=("interaction_date",),
    indexes=(
        Index(("email_hash",)),  # derive 10: interactions of this load's customers
        Index(("interaction_date",)),  # derive 50, row_count_interactions
        Index(("customer_id", "occurred_at")),  # derive 50: last touch before an order
    ),
)
FCT_CLICK_EVENT = TableSpec(
    "fct_click_event",
    _cols(
        "event_id text not null; event_ts timestamp not null; event_date date not null;"
        "event_type text not null; session_id text not null; customer_id bigint;"
        "product_id text; order_id bigint; device text; utm_source text; utm_campaign text"
    ),
    key=("event_id",),
    upkeep=Upkeep.INSERT_NEW,
    distkey="session_id",
    sortkey=("event_date",),
    # derive 20 (the stored events of the loaded sessions, within their dates), derive 50 and
    # row_count_click_events read the events of a few dates. No session_id index: each
    # insert took a random page of it, and the date range selects as well.
    indexes=(Index(("event_date",)),),
)
FCT_SESSION = TableSpec(
    "fct_session",
    _cols(
        "session_id text not null; session_date date not null; customer_id bigint;"
        "started_at timestamp not null; ended_at timestamp not null; events int not null;"
        "page_views int not null; product_views int not null; add_to_carts int not null;"
        "checkouts int not null; purchases int not null; device text; utm_campaign text"
    ),
    key=("session_id",),
    upkeep=Upkeep.REBUILD,
    distkey="session_id",
    sortkey=("session_date",),
    indexes=(Index(("session_date",)),),  # derive 50: sessions of the affected dates
)
CUSTOMER_DAILY = TableSpec(
    "customer_daily",
    _cols(
        "activity_date date not null; customer_id bigint not null; orders int not null;"
        f"items int not null; revenue_usd {MONEY} not null; sessions int not null;"
        "page_views int not null; product_views int not null; add_to_carts int not null;"
        "interactions int not null; email_opens int not null; email_clicks int not null;"
        "converted bool not null; attributed_campaign_id text"
    ),
    key=("activity_date", "customer_id"),
    upkeep=Upkeep.REBUILD,
    distkey="customer_id",
    sortkey=("activity_date",),
)
QUARANTINE = TableSpec(
    "quarantine",
    _cols(
        "source text not null; business_date date not null; record_key text not null;"
        "raw text; reason text not null; run_id text not null"
    ),
    key=(),
    upkeep=Upkeep.REPLACE_PARTITION,
    sortkey=("business_date",),
)
LOAD_AUDIT = TableSpec(
    "load_audit",
    _cols(
        "run_id text not null; source text not null; business_date date not null;"
        "rows_in bigint not null; rows_loaded bigint not null; rows_duplicate bigint not null;"
        "rows_quarantined bigint not null; started_at timestamp not null;"
        "finished_at timestamp not null"
    ),
    key=("run_id", "source"),
    upkeep=Upkeep.APPEND_PER_RUN,
    sortkey=("business_date",),
)

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        DIM_CUSTOMER,
        DIM_PRODUCT,
        FCT_ORDER_LINE,
        FCT_INTERACTION,
        FCT_CLICK_EVENT,
        FCT_SESSION,
        CUSTOMER_DAILY,
        QUARANTINE,
        LOAD_AUDIT,
    )
}
