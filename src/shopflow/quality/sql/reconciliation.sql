-- reconciliation: CONTRACT rule 9 for every source of the run (its load_audit rows):
-- rows_in = rows_loaded + rows_duplicate + rows_quarantined, no count negative.
-- A run without load_audit rows fails.
with

run_audit as (
    select
        source,
        rows_in,
        rows_loaded,
        rows_duplicate,
        rows_quarantined,
        rows_in <> rows_loaded + rows_duplicate + rows_quarantined
        or least(rows_in, rows_loaded, rows_duplicate, rows_quarantined) < 0 as unbalanced
    from analytics.load_audit
    where run_id = :run_id
),

verdict as (
    select
        count(*) as sources,
        coalesce(sum(case when unbalanced then 1 else 0 end), 0) as sources_unbalanced,
        min(
            case
                when unbalanced
                    then
                        source || ' in ' || cast(rows_in as varchar)
                        || ', loaded ' || cast(rows_loaded as varchar)
                        || ', duplicate ' || cast(rows_duplicate as varchar)
                        || ', quarantined ' || cast(rows_quarantined as varchar)
            end
        ) as first_unbalanced
    from run_audit
)

select
    sources > 0 and sources_unbalanced = 0 as passed,
    cast(sources as varchar) || ' source(s) audited, '
    || cast(sources_unbalanced as varchar)
    || ' with rows_in <> loaded + duplicate + quarantined'
    || coalesce(' (' || first_unbalanced || ')', '') as detail
from verdict
