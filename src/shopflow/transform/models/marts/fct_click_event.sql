-- fct_click_event delta: customer_id is the event's own (rule 6 attribution is derived).
-- The staging columns without the helper ones, plus event_date.
with

events as (
    select * from stg_events
    where reject_reason is null and not is_duplicate
),

final as (
    select
        * exclude (source, record_key, is_duplicate, reject_reason),
        cast(event_ts as date) as event_date
    from events
)

select * from final
