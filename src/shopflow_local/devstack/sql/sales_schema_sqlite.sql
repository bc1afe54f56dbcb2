-- sqlfluff:dialect:sqlite
-- sqlfluff:templater:placeholder:param_style:question_mark
-- S1 sales database as a SQLite file, the same tables and columns as in MySQL.
-- Exactness: DECIMAL columns are TEXT holding the canonical decimal ('12.30',
-- '1.08512345'), because SQLite's NUMERIC affinity would store binary floats;
-- DATETIME(6) columns are TEXT 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), DATE is TEXT
-- 'YYYY-MM-DD'; fixed widths make text order the order of instants.
create table if not exists customers (
    customer_id integer not null primary key,
    email text not null,
    full_name text,
    country text,
    created_at text,
    updated_at text
);

create index if not exists ix_customers_updated_at on customers (updated_at);

create table if not exists orders (
    order_id integer not null primary key,
    customer_id integer not null,
    status text,
    currency text,
    order_ts text,
    updated_at text,
    shipping_amount text,
    discount_amount text
);

create index if not exists ix_orders_updated_at on orders (updated_at);

create table if not exists order_items (
    order_id integer not null,
    line_no integer not null,
    product_id text,
    quantity integer,
    unit_price text,
    primary key (order_id, line_no)
);

create table if not exists fx_rates (
    rate_date text not null,
    currency text not null,
    usd_per_unit text,
    primary key (rate_date, currency)
);
