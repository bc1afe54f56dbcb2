-- Sales customers (the email already replaced by its HMAC): one row per staged record,
-- with its quarantine reason (null when good) and a duplicate flag.
with

staged as (
    select * from raw_sales_customers
),

ranked as (
    select
        customer_id,
        email_hash,
        upper(trim(country)) as country,
        created_at,
        updated_at,
        row_number() over (
            partition by customer_id
            order by updated_at desc nulls last, email_hash asc nulls last
        ) as key_rank
    from staged
),

final as (
    select
        customer_id,
        email_hash,
        country,
        created_at,
        updated_at,
        'sales' as source,
        'customers/' || coalesce(cast(customer_id as varchar), '') as record_key,
        customer_id is not null and key_rank > 1 as is_duplicate,
        case
            when customer_id is null then 'missing_customer_id'
            when email_hash is null then 'missing_email'
            when updated_at is null then 'missing_updated_at'
        end as reject_reason
    from ranked
)

select * from final
