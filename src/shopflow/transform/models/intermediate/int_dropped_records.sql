-- Every staged record the transform drops, from the staging models of the source tables:
-- later copies of a key (is_duplicate) and first copies with a reject_reason. record = the
-- whole staging row as JSON (the email already replaced by its hash). The one list of those
-- staging models: each has the helper columns source, record_key, is_duplicate and
-- reject_reason (models/README.md), so one union by name serves them all.
-- A view: int_rejects and int_source_counts each push their filter and columns into the
-- union, so only the rejected records are turned into JSON.
-- materialized: view
with

staged as (
    select
        *,
        to_json(stg_customers) as record
    from stg_customers
    union all by name
    select
        *,
        to_json(stg_orders) as record
    from stg_orders
    union all by name
    select
        *,
        to_json(stg_order_items) as record
    from stg_order_items
    union all by name
    select
        *,
        to_json(stg_fx_rates) as record
    from stg_fx_rates
    union all by name
    select
        *,
        to_json(stg_interactions) as record
    from stg_interactions
    union all by name
    select
        *,
        to_json(stg_products) as record
    from stg_products
    union all by name
    select
        *,
        to_json(stg_events) as record
    from stg_events
),

final as (
    select
        source,
        record_key,
        is_duplicate,
        reject_reason,
        record
    from staged
    where is_duplicate or reject_reason is not null
)

select * from final
