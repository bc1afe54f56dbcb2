-- quarantine_share: for every source of the run (its load_audit rows), rows_quarantined
-- is at most 1 per cent of rows_in. A run without load_audit rows fails.
with

run_audit as (
    select
        source,
        rows_in,
        rows_quarantined,
        rows_quarantined * 100 > rows_in as over_limit
    from analytics.load_audit
    where run_id = :run_id
),

verdict as (
    select
        count(*) as sources,
        coalesce(sum(case when over_limit then 1 else 0 end), 0) as sources_over_limit,
        min(
            case
                when over_limit
                    then
                        source || ' quarantined ' || cast(rows_quarantined as varchar)
                        || ' of ' || cast(rows_in as varchar)
            end
        ) as first_over_limit
    from run_audit
)

select
    sources > 0 and sources_over_limit = 0 as passed,
    cast(sources as varchar) || ' source(s) audited, '
    || cast(sources_over_limit as varchar)
    || ' over the 1 per cent quarantine limit'
    || coalesce(' (' || first_over_limit || ')', '') as detail
from verdict
