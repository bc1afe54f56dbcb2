-- sqlfluff:dialect:mysql
-- Upserts of the generator into S1 (MySQL/MariaDB), one per table, named by
-- "-- name:" lines. customers and orders keep the row with the newest updated_at
-- (ties take the incoming row, which is then identical); MySQL assigns left to
-- right, so updated_at is assigned last. order_items never change; fx_rates are a
-- pure function of the day.

-- name: customers
insert into customers (customer_id, email, full_name, country, created_at, updated_at)
values (%s, %s, %s, %s, %s, %s)
on duplicate key update
    email = if(values(updated_at) >= updated_at, values(email), email),
    full_name = if(values(updated_at) >= updated_at, values(full_name), full_name),
    country = if(values(updated_at) >= updated_at, values(country), country),
    created_at = if(values(updated_at) >= updated_at, values(created_at), created_at),
    updated_at = if(values(updated_at) >= updated_at, values(updated_at), updated_at);

-- name: orders
insert into orders (
    order_id, customer_id, status, currency, order_ts, updated_at, shipping_amount,
    discount_amount
)
values (%s, %s, %s, %s, %s, %s, %s, %s)
on duplicate key update
    customer_id = if(values(updated_at) >= updated_at, values(customer_id), customer_id),
    status = if(values(updated_at) >= updated_at, values(status), status),
    currency = if(values(updated_at) >= updated_at, values(currency), currency),
    order_ts = if(values(updated_at) >= updated_at, values(order_ts), order_ts),
    shipping_amount = if(
        values(updated_at) >= updated_at, values(shipping_amount), shipping_amount
    ),
    discount_amount = if(
        values(updated_at) >= updated_at, values(discount_amount), discount_amount
    ),
    updated_at = if(values(updated_at) >= updated_at, values(updated_at), updated_at);

-- name: order_items
insert into order_items (order_id, line_no, product_id, quantity, unit_price)
values (%s, %s, %s, %s, %s)
on duplicate key update order_id = order_id;

-- name: fx_rates
insert into fx_rates (rate_date, currency, usd_per_unit)
values (%s, %s, %s)
on duplicate key update usd_per_unit = values(usd_per_unit);

-- name: generated_days
-- Days already written: each writes its USD fx row (never missing) in its transaction.
select rate_date from fx_rates where currency = 'USD';
