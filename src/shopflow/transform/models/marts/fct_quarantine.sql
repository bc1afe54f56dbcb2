-- quarantine delta (the warehouse table quarantine, see models/README.md): what the extracts
-- and the transform quarantined, stamped with the run's business date and id.
with

extracted as (
    select
        source,
        record_key,
        raw,
        reason
    from stg_quarantine
),

rejected as (
    select
        source,
        record_key,
        raw,
        reason
    from int_rejects
),

unioned as (
    select * from extracted
    union all
    select * from rejected
),

final as (
    select
        unioned.source,
        run_context.business_date,
        unioned.record_key,
        unioned.raw,
        unioned.reason,
        run_context.run_id
    from unioned
    cross join run_context
)

select * from final
