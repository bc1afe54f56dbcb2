-- Rule 8, after 40: the rows the rebuilt sessions reach with their new customer (30 took
-- the old one): (session_date, customer_id) of each rebuilt session, and (event_date,
-- session's customer) of its events without a customer of their own (rule 6). Only keys
-- not yet in tmp_affected_keys, so it stays free of duplicates.
insert into tmp_affected_keys (activity_date, customer_id)
with

rebuilt as (
    select
        sessions.session_id,
        sessions.session_date,
        sessions.customer_id
    from analytics.fct_session as sessions
    where
        sessions.customer_id is not null
        and sessions.session_id in (
            select touched.session_id from tmp_touched_sessions as touched
        )
),

keys as (
    select
        session_date as activity_date,
        customer_id
    from rebuilt
    union
    select
        events.event_date as activity_date,
        rebuilt.customer_id
    from tmp_session_events as events
    inner join rebuilt on events.session_id = rebuilt.session_id
    where events.customer_id is null
)

select
    activity_date,
    customer_id
from keys
except
select
    activity_date,
    customer_id
from tmp_affected_keys;

-- Postgres never analyzes temp tables by itself (autovacuum cannot see them): without
-- statistics its planner sorts and merges whole fact tables against these few keys.
analyze tmp_affected_keys;
