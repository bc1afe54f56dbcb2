-- quarantine_share: for every source of the run (its load_audit rows), rows_quarantined
-- is at most max(:limit_at_least, floor(rows_in * :limit_basis_points / 10000)). The
-- detail names the source that used the largest part of its allowance (a source over
-- it first). A run without load_audit rows fails.
with

limits as (
    select
        cast(:limit_basis_points as integer) as basis_points,
        cast(:limit_at_least as integer) as at_least,
        cast(:limit_label as varchar) as share_label
),

run_audit as (
    select
        audited.source,
        audited.rows_in,
        audited.rows_quarantined,
        greatest(
            limits.at_least,
            cast(floor(audited.rows_in * limits.basis_points / 10000.0) as bigint)
        ) as allowed
    from analytics.load_audit as audited
    cross join limits
    where audited.run_id = :run_id
),

ranked as (
    select
        source,
        rows_in,
        rows_quarantined,
        allowed,
        row_number() over (
            order by
                case when rows_quarantined > allowed then 0 else 1 end,
                rows_quarantined * 1.0 / greatest(allowed, 1) desc,
                source
        ) as nearness
    from run_audit
),

verdict as (
    select
        count(*) as sources,
        coalesce(sum(case when rows_quarantined > allowed then 1 else 0 end), 0)
            as sources_over_limit,
        min(
            case
                when nearness = 1
                    then
                        source || ' quarantined ' || cast(rows_quarantined as varchar)
                        || ' of ' || cast(rows_in as varchar)
                        || ', allowed ' || cast(allowed as varchar)
            end
        ) as nearest
    from ranked
)

select
    verdict.sources > 0 and verdict.sources_over_limit = 0 as passed,
    cast(verdict.sources as varchar) || ' source(s) audited, '
    || cast(verdict.sources_over_limit as varchar) || ' over the limit ('
    || limits.share_label || ' or at least ' || cast(limits.at_least as varchar) || ')'
    || coalesce('; nearest: ' || verdict.nearest, '') as detail
from verdict
cross join limits
