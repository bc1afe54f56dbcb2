-- One batch of clickstream lines (table `chunk`: pos, source_file, line_no, line, utf8_ok;
-- pos numbers the rows in file then line order) into typed events, each with its
-- quarantine reason (null when the line is good).
-- Data contract S4 and rule 4. Unknown extra fields are ignored; an id that is not an integer
-- (e.g. 3.5) becomes null rather than being rounded.
with source as (
    select
        pos,
        source_file,
        line_no,
        line,
        case when utf8_ok and json_valid(line) then line end as valid_json
    from chunk
),

objects as (
    select
        pos,
        source_file,
        line_no,
        line,
        -- valid JSON whose first non-blank character is { is an object: no second parse
        case
            when starts_with(ltrim(valid_json, ' ' || chr(9) || chr(10) || chr(13)), '{')
                then valid_json
        end as obj
    from source
),

extracted as (
    select
        pos,
        source_file,
        line_no,
        line,
        obj is not null as is_object,
        json_extract_string(
            obj,
            [
                '$.event_id', '$.event_type', '$.ts', '$.session_id', '$.anonymous_id',
                '$.customer_id', '$.product_id', '$.order_id', '$.page_url', '$.referrer',
                '$.utm_source', '$.utm_campaign', '$.device'
            ]
        ) as f
    from objects
),

typed as (
    select
        pos,
        source_file,
        line_no,
        line,
        is_object,
        nullif(f[1], '') as event_id,
        nullif(f[2], '') as event_type,
        nullif(f[3], '') as ts_text,
        try_cast(nullif(f[3], '') as timestamptz) as ts,
        nullif(f[4], '') as session_id,
        f[5] as anonymous_id,
        case when regexp_full_match(f[6], '-?[0-9]{1,18}') then f[6]::bigint end as customer_id,
        f[7] as product_id,
        case when regexp_full_match(f[8], '-?[0-9]{1,18}') then f[8]::bigint end as order_id,
        f[9] as page_url,
        f[10] as referrer,
        f[11] as utm_source,
        f[12] as utm_campaign,
        f[13] as device
    from extracted
),

final as (
    select
        *,
        case
            when not is_object then 'not_json'
            when event_id is null then 'missing_event_id'
            when event_type is null then 'missing_event_type'
            when ts_text is null then 'missing_ts'
            when session_id is null then 'missing_session_id'
            when ts is null then 'bad_ts'
            when
                event_type not in (
                    'page_view', 'product_view', 'add_to_cart', 'remove_from_cart',
                    'checkout_start', 'purchase'
                )
                then 'unknown_event_type'
        end as reason
    from typed
)

select * from final
