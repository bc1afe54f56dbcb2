-- sqlfluff:dialect:mysql
-- S1 sales database (MySQL 8 / MariaDB 10.11), as docs/data-contract.md describes it.
-- Run inside the target database; every statement is idempotent.
create table if not exists customers (
    customer_id bigint not null,
    email varchar(255) not null,
    full_name varchar(200),
    country char(2),
    created_at datetime(6),
    updated_at datetime(6),
    primary key (customer_id),
    key ix_customers_updated_at (updated_at)
) engine = innodb default charset = utf8mb4 collate = utf8mb4_unicode_ci;

create table if not exists orders (
    order_id bigint not null,
    customer_id bigint not null,
    status varchar(16),
    currency char(3),
    order_ts datetime(6),
    updated_at datetime(6),
    shipping_amount decimal(12, 2),
    discount_amount decimal(12, 2),
    primary key (order_id),
    key ix_orders_updated_at (updated_at)
) engine = innodb default charset = utf8mb4 collate = utf8mb4_unicode_ci;

create table if not exists order_items (
    order_id bigint not null,
    line_no int not null,
    product_id varchar(32),
    quantity int,
    unit_price decimal(12, 2),
    primary key (order_id, line_no)
) engine = innodb default charset = utf8mb4 collate = utf8mb4_unicode_ci;

create table if not exists fx_rates (
    rate_date date not null,
    currency char(3) not null,
    usd_per_unit decimal(18, 8),
    primary key (rate_date, currency)
) engine = innodb default charset = utf8mb4 collate = utf8mb4_unicode_ci;
