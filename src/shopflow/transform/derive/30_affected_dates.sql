-- Rule 8: the dates whose customer_daily rows this load can change. Order dates of the
-- loaded lines; dates of new and newly resolved interactions, and for touches the 7
-- following dates too (an order looks back 7 days for attribution); the date of every
-- event of every rebuilt session (its customer may change, rule 6). Those event dates
-- include the session's old and new session_date: both are the date of its earliest
-- event, before and after the load, and events are never removed.
create temp table tmp_affected_dates as
with recursive

changed_interactions as (
    select
        interaction_date,
        type
    from delta_fct_interaction
    union all
    select
        interaction_date,
        type
    from tmp_resolved_interactions
),

touch_dates as (
    select distinct interaction_date
    from changed_interactions
    where type in ('email_click', 'sms_click', 'push_open')
),

-- The 7 dates after each touch date, a day a step: a recursive CTE, because derive also
-- runs on Redshift, where generate_series cannot feed a table (models/README.md).
touch_windows (activity_date, days_left) as (
    select
        cast(interaction_date + interval '1 day' as date) as activity_date,
        6 as days_left
    from touch_dates
    union all
    select
        cast(activity_date + interval '1 day' as date) as activity_date,
        days_left - 1 as days_left
    from touch_windows
    where days_left > 0
),

dates as (
    select order_date as activity_date
    from delta_fct_order_line
    union
    select interaction_date as activity_date
    from changed_interactions
    union
    select activity_date
    from touch_windows
    union
    select event_date as activity_date
    from tmp_session_events
)

select activity_date
from dates;
