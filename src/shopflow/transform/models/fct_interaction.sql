-- fct_interaction delta: customer_id stays null here; derive resolves it against the
-- warehouse's dim_customer (rule 3).
with

interactions as (
    select * from stg_interactions
    where reject_reason is null and not is_duplicate
),

final as (
    select
        interaction_id,
        email_hash,
        cast(null as bigint) as customer_id,
        occurred_at,
        cast(occurred_at as date) as interaction_date,
        type,
        channel,
        campaign_id
    from interactions
)

select * from final
