-- Clickstream events (already deduplicated and validated at extract; checked again so
-- that nothing the warehouse cannot hold gets through).
with

staged as (
    select * from raw_clickstream_events
),

ranked as (
    select
        event_id,
        event_type,
        ts as event_ts,
        session_id,
        customer_id,
        product_id,
        order_id,
        device,
        nullif(utm_source, '') as utm_source,
        nullif(utm_campaign, '') as utm_campaign,
        row_number() over (
            partition by event_id order by ts, source_file
        ) as key_rank
    from staged
),

final as (
    select
        event_id,
        event_type,
        event_ts,
        session_id,
        customer_id,
        product_id,
        order_id,
        device,
        utm_source,
        utm_campaign,
        'clickstream' as source,
        'events/' || coalesce(event_id, '') as record_key,
        event_id is not null and key_rank > 1 as is_duplicate,
        case
            when event_id is null or event_id = '' then 'missing_event_id'
            when event_type is null or event_type = '' then 'missing_event_type'
            when event_ts is null then 'missing_ts'
            when session_id is null or session_id = '' then 'missing_session_id'
            when
                event_type not in (
                    'page_view', 'product_view', 'add_to_cart', 'remove_from_cart',
                    'checkout_start', 'purchase'
                )
                then 'unknown_event_type'
        end as reject_reason
    from ranked
)

select * from final
