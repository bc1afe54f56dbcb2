-- Clickstream events (already deduplicated and validated at extract; checked again so
-- that nothing the warehouse cannot hold gets through).
with

-- The extract already drops repeated event ids: rather than rank every event (a window
-- sorts them all), rank only the events of an id staged more than once.
repeated as (
    select event_id
    from raw_clickstream_events
    group by event_id
    having count(*) > 1
),

keyed as (
    select
        staged.*,
        1 as key_rank
    from raw_clickstream_events as staged
    anti join repeated on staged.event_id = repeated.event_id
    union all
    select
        staged.*,
        row_number() over (
            partition by staged.event_id order by staged.ts, staged.source_file
        ) as key_rank
    from raw_clickstream_events as staged
    semi join repeated on staged.event_id = repeated.event_id
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
        key_rank
    from keyed
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
