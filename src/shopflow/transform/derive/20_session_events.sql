-- Every stored event of the sessions that gained events in this load (rule 5 rebuilds
-- them from all their events, whatever day brought them).
-- A stored event of such a session is one of this load's events, or was there before
-- and is dated within [session_date, date of ended_at] of its session as sessions
-- (fct_session holds every stored session, rebuilt with its events in one transaction).
-- Those dates bound the scan, so it reads the dates the sessions reach (a zone map, an
-- index on event_date), not the whole history: exact, and flat as history grows.
-- The touched sessions are a table of their own, read by 30, 40 and 45 as well: one
-- grouping of the day's events, and statistics for the joins with them.
create temp table tmp_touched_sessions as
select distinct delta.session_id
from delta_fct_click_event as delta;

analyze tmp_touched_sessions;

create temp table tmp_session_events as
with

spans as (
    select
        sessions.session_date as span_start,
        cast(sessions.ended_at as date) as span_end
    from analytics.fct_session as sessions
    inner join tmp_touched_sessions as touched on sessions.session_id = touched.session_id
    union all
    select
        min(delta.event_date) as span_start,
        max(delta.event_date) as span_end
    from delta_fct_click_event as delta
),

bounds as (
    select
        min(spans.span_start) as span_start,
        max(spans.span_end) as span_end
    from spans
)

select
    events.session_id,
    events.event_id,
    events.event_ts,
    events.event_date,
    events.event_type,
    events.customer_id,
    events.device,
    events.utm_campaign
from analytics.fct_click_event as events
where
    events.event_date >= (select bounds.span_start from bounds)
    and events.event_date <= (select bounds.span_end from bounds)
    and events.session_id in (select touched.session_id from tmp_touched_sessions as touched);

-- Statistics for 30 and 45, which join these events with the sessions (Postgres
-- never analyzes temp tables by itself: it took them for a few thousand rows and
-- sorted a million).
analyze tmp_session_events;
