-- Derive: portable SQL (DuckDB, Postgres, Redshift) that Warehouse.load_day runs after
-- the merges, in the same transaction. It reads the analytics tables and the delta_*
-- temp tables of the load. Start clean in case an earlier load left temp tables behind.
drop table if exists tmp_resolved_interactions;

drop table if exists tmp_touched_sessions;

drop table if exists tmp_session_events;

drop table if exists tmp_affected_keys;

drop table if exists tmp_key_sessions;
