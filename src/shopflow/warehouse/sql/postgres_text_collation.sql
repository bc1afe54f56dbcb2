-- Upgrade of a warehouse created before text columns were declared collate "C"
-- (ddl.py): each such column of the analytics schema is altered once (the table and
-- its indexes are rewritten, under the load lock); a no-op afterwards. Without it such
-- a warehouse loads correctly but keeps sorting its ids by the locale's rules.
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
end $$;
