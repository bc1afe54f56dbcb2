-- fct_click_event delta: customer_id is the event's own (rule 6 attribution is derived).
with

events as (
    select * from stg_events
    where reject_reason is null and not is_duplicate
),

final as (
    select
        event_id,
        event_ts,
        cast(event_ts as date) as event_date,
        event_type,
        session_id,
        customer_id,
        product_id,
        order_id,
        device,
        utm_source,
        utm_campaign
    from events
)

select * from final
