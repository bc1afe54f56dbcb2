-- Every stored event of the sessions that gained events in this load (rule 5 rebuilds
-- them from all their events, whatever day brought them).
create temp table tmp_session_events as
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
where events.session_id in (select delta.session_id from delta_fct_click_event as delta);
