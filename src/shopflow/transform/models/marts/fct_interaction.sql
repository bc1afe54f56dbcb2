-- fct_interaction delta: customer_id stays null here; derive resolves it against the
-- warehouse's dim_customer (rule 3). The staging columns without the helper ones, plus
-- customer_id and interaction_date.
with

interactions as (
    select * from stg_interactions
    where reject_reason is null and not is_duplicate
),

final as (
    select
        * exclude (source, record_key, is_duplicate, reject_reason),
        cast(null as bigint) as customer_id,
        cast(occurred_at as date) as interaction_date
    from interactions
)

select * from final
