-- Sales fx rates (USD per unit of a currency, per day).
with

staged as (
    select * from raw_sales_fx_rates
),

ranked as (
    select
        rate_date,
        upper(trim(currency)) as currency,
        usd_per_unit,
        row_number() over (
            partition by rate_date, upper(trim(currency)) order by usd_per_unit
        ) as key_rank
    from staged
),

final as (
    select
        rate_date,
        currency,
        usd_per_unit,
        'sales' as source,
        'fx_rates/' || coalesce(cast(rate_date as varchar), '')
        || '/' || coalesce(currency, '') as record_key,
        rate_date is not null and currency is not null and key_rank > 1 as is_duplicate,
        case
            when rate_date is null then 'missing_rate_date'
            when currency is null or currency = '' then 'missing_currency'
            when usd_per_unit is null then 'missing_usd_per_unit'
            when usd_per_unit <= 0 then 'bad_usd_per_unit'
        end as reject_reason
    from ranked
)

select * from final
