-- sqlfluff:templater:placeholder:param_style:question_mark
-- One collector line per annotated event (generator/clickstream.py), in event order:
-- the event as a JSON object, with an unknown extra field or broken the way its
-- `malformed` column says. Duplicate copies are added by the caller.
with events_json as (
    select
        malformed,
        extra_field,
        to_json(
            struct_pack(
                event_id, event_type, ts, session_id, anonymous_id, customer_id, product_id,
                order_id, page_url, referrer, utm_source, utm_campaign, device
            )
        )::varchar as json
    from events
),

lines as (
    select
        case
            when malformed = 'truncated' then left(json, 40)
            when malformed = 'no_event_id' then regexp_replace(json, '"event_id":"[^"]*",', '')
            when
                malformed = 'no_event_type'
                then regexp_replace(json, '"event_type":"[^"]*",', '')
            when malformed = 'no_ts' then regexp_replace(json, '"ts":"[^"]*",', '')
            when
                malformed = 'no_session_id'
                then regexp_replace(json, '"session_id":"[^"]*",', '')
            when
                malformed = 'bad_ts'
                then regexp_replace(json, '"ts":"[^"]*"', '"ts":"2025-02-30T25:61:00Z"')
            when
                malformed = 'unknown_event_type'
                then regexp_replace(json, '"event_type":"[^"]*"', '"event_type":"video_play"')
            when
                extra_field is not null
                then left(json, length(json) - 1) || ',' || extra_field || '}'
            else json
        end as line
    from events_json
)

select line from lines
