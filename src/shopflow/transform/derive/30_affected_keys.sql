-- Rule 8: the (activity_date, customer_id) rows of customer_daily this load can change,
-- before 40 rebuilds the sessions (their old customers are read here; 45 adds the new).
-- A row (d, c) depends on c's order lines placed on d, sessions dated d, events dated d
-- (own customer, else the session's: rule 6), interactions dated d and, for attribution,
-- touches of c in the 7 days before its orders of d. Each change below names the rows it
-- can reach, with the customer before and after the load:
-- * order lines: (order_date, customer_id) of the delta's lines. Assumes a line's
--   order_date and customer_id never change (only status and updated_at do: the line the
--   merge replaced had the same pair, and it is gone by now).
-- * interactions: only 10 gives or changes an interaction's customer (the transform
--   loads them unresolved), so tmp_resolved_interactions holds every change. The
--   customer before may be another customer with the same email_hash (a re-resolution);
--   every customer sharing the new customer's email_hash is taken. Assumes a customer's
--   email_hash never changes (data contract: the email never changes after creation).
--   Touches also reach that customer's orders of the 7 following dates.
-- * sessions rebuilt by 40: their (session_date, customer_id) now; 45 adds them after.
-- * events of those sessions: (event_date, own customer, else the session's) now; 45
--   adds the same with the rebuilt session's customer. New events belong to them.
drop table if exists tmp_affected_keys;

create temp table tmp_affected_keys as
with recursive

resolved as (
    select
        resolved.interaction_date,
        resolved.type,
        peer.customer_id
    from tmp_resolved_interactions as resolved
    inner join analytics.dim_customer as chosen
        on resolved.resolved_customer_id = chosen.customer_id
    inner join analytics.dim_customer as peer on chosen.email_hash = peer.email_hash
),

-- The 7 dates after each touch, a day a step: a recursive CTE, because derive also runs
-- on Redshift, where generate_series cannot feed a table (models/README.md).
touch_windows (activity_date, customer_id, days_left) as (
    select distinct
        cast(interaction_date + interval '1 day' as date) as activity_date,
        customer_id,
        6 as days_left
    from resolved
    where type in ('email_click', 'sms_click', 'push_open')
    union all
    select
        cast(activity_date + interval '1 day' as date) as activity_date,
        customer_id,
        days_left - 1 as days_left
    from touch_windows
    where days_left > 0
),

old_sessions as (
    select
        sessions.session_id,
        sessions.session_date,
        sessions.customer_id
    from analytics.fct_session as sessions
    where sessions.session_id in (select touched.session_id from tmp_touched_sessions as touched)
),

keys as (
    select
        order_date as activity_date,
        customer_id
    from delta_fct_order_line
    union
    select
        interaction_date as activity_date,
        customer_id
    from resolved
    union
    select
        activity_date,
        customer_id
    from touch_windows
    union
    select
        session_date as activity_date,
        customer_id
    from old_sessions
    union
    select
        events.event_date as activity_date,
        coalesce(events.customer_id, old_sessions.customer_id) as customer_id
    from tmp_session_events as events
    left join old_sessions on events.session_id = old_sessions.session_id
)

select
    activity_date,
    customer_id
from keys
where customer_id is not null;
