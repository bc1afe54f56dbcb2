-- Drop the temp tables so the next load on this session starts clean.
drop table if exists tmp_resolved_interactions;

drop table if exists tmp_touched_sessions;

drop table if exists tmp_session_events;

drop table if exists tmp_affected_keys;

drop table if exists tmp_key_sessions;
