-- Records the transform itself quarantines: the first copy of a key with a reject_reason
-- (later copies are duplicates). raw = the staged record as JSON without the helper columns.
with

rejected as (
    select * from int_dropped_records
    where not is_duplicate
),

final as (
    select
        source,
        record_key,
        cast(
            json_merge_patch(
                record,
                '{"source": null, "record_key": null, "is_duplicate": null, "reject_reason": null}'
            ) as varchar
        ) as raw,
        reject_reason as reason
    from rejected
)

select * from final
