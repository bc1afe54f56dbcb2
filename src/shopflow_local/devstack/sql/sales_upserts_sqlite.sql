-- sqlfluff:dialect:sqlite
-- sqlfluff:templater:placeholder:param_style:question_mark
-- Upserts of the generator into S1 as SQLite, one per table, named by "-- name:"
-- lines. customers and orders keep the row with the newest updated_at (ties take
-- the incoming row, which is then identical); order_items never change; fx_rates
-- are a pure function of the day.

-- name: customers
insert into customers (customer_id, email, full_name, country, created_at, updated_at)
values (?, ?, ?, ?, ?, ?)
on conflict (customer_id) do update set
    email = excluded.email,
    full_name = excluded.full_name,
    country = excluded.country,
    created_at = excluded.created_at,
    updated_at = excluded.updated_at
where excluded.updated_at >= customers.updated_at;

-- name: orders
insert into orders (
    order_id, customer_id, status, currency, order_ts, updated_at, shipping_amount,
    discount_amount
)
values (?, ?, ?, ?, ?, ?, ?, ?)
on conflict (order_id) do update set
    customer_id = excluded.customer_id,
    status = excluded.status,
    currency = excluded.currency,
    order_ts = excluded.order_ts,
    updated_at = excluded.updated_at,
    shipping_amount = excluded.shipping_amount,
    discount_amount = excluded.discount_amount
where excluded.updated_at >= orders.updated_at;

-- name: order_items
insert into order_items (order_id, line_no, product_id, quantity, unit_price)
values (?, ?, ?, ?, ?)
on conflict (order_id, line_no) do nothing;

-- name: fx_rates
insert into fx_rates (rate_date, currency, usd_per_unit)
values (?, ?, ?)
on conflict (rate_date, currency) do update set usd_per_unit = excluded.usd_per_unit;

-- name: generated_days
-- Days already written: each writes its USD fx row (never missing) in its transaction.
select rate_date from fx_rates
where currency = 'USD';
