-- Marketing interactions (the email already replaced by its HMAC): unknown types and
-- channels, and records the warehouse cannot hold, get a quarantine reason.
with

staged as (
    select * from raw_interactions_interactions
),

ranked as (
    select
        interaction_id,
        email_hash,
        lower(trim(type)) as type,
        lower(trim(channel)) as channel,
        campaign_id,
        occurred_at,
        row_number() over (
            partition by interaction_id
            order by occurred_at, email_hash, type, channel, campaign_id
        ) as key_rank
    from staged
),

final as (
    select
        interaction_id,
        email_hash,
        type,
        channel,
        campaign_id,
        occurred_at,
        'interactions' as source,
        'interactions/' || coalesce(interaction_id, '') as record_key,
        interaction_id is not null and key_rank > 1 as is_duplicate,
        case
            when interaction_id is null or interaction_id = '' then 'missing_id'
            when email_hash is null then 'missing_email'
            when occurred_at is null then 'missing_occurred_at'
            when type is null or type = '' then 'missing_type'
            when
                type not in (
                    'email_sent', 'email_open', 'email_click', 'sms_sent', 'sms_click',
                    'push_open', 'unsubscribe'
                )
                then 'unknown_type'
            when channel not in ('email', 'sms', 'push') then 'unknown_channel'
        end as reject_reason
    from ranked
)

select * from final
