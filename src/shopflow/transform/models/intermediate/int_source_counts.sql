-- What the transform drops, per source: later copies of a key (rows_duplicate) and the
-- records it quarantines (rows_quarantined). Added to the extract's counts for rule 9; a
-- source that dropped nothing has no row (build.py counts it as 0, 0).
with

dropped as (
    select * from int_dropped_records
),

final as (
    select
        source,
        count(*) filter (where is_duplicate) as rows_duplicate,
        count(*) filter (where not is_duplicate) as rows_quarantined
    from dropped
    group by source
)

select * from final
