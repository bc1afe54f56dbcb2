-- Upgrade of a warehouse created by an earlier version, run by every load under the
-- load lock; a no-op once done:
-- * each text column of the analytics schema not yet collate "C" (ddl.py) is altered,
--   once (the table and its indexes are rewritten). Without it such a warehouse loads
--   correctly but keeps sorting its ids by the locale's rules;
-- * indexes that tables.py no longer declares are dropped (each insert paid for them):
--   the click events' session_id index and the unresolved interactions' partial index.
do $$
declare
    col record;
begin
    for col in
        select columns.table_name, columns.column_name
        from information_schema.columns as columns
        where
            columns.table_schema = 'analytics'
            and columns.data_type = 'text'
            and columns.collation_name is distinct from 'C'
    loop
        execute format(
            'alter table analytics.%I alter column %I type text collate "C"',
            col.table_name,
            col.column_name
        );
    end loop;
    drop index if exists analytics.fct_click_event_session_id_idx;
    drop index if exists analytics.fct_interaction_interaction_id_partial_idx;
end $$;
