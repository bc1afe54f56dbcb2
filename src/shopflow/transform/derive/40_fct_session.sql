-- Rule 5: rebuild every session that gained events from all its events. Ties in ts are
-- broken by event_id: "first" means the smallest (event_ts, event_id). One ordering for
-- every "first": a running count of the non-null customers (campaigns) marks the first
-- event that has one, so the events are sorted once, not once per rank (the same
-- window, spelled out: Redshift has no named windows).
delete from analytics.fct_session
where session_id in (select touched.session_id from tmp_touched_sessions as touched);

insert into analytics.fct_session (
    session_id,
    session_date,
    customer_id,
    started_at,
    ended_at,
    events,
    page_views,
    product_views,
    add_to_carts,
    checkouts,
    purchases,
    device,
    utm_campaign
)
with

ranked as (
    select
        session_id,
        event_ts,
        event_type,
        customer_id,
        device,
        utm_campaign,
        row_number() over (
            partition by session_id order by event_ts asc, event_id asc
        ) as event_rank,
        count(customer_id) over (
            partition by session_id order by event_ts asc, event_id asc
            rows unbounded preceding
        ) as customers_so_far,
        count(utm_campaign) over (
            partition by session_id order by event_ts asc, event_id asc
            rows unbounded preceding
        ) as campaigns_so_far
    from tmp_session_events
)

select
    session_id,
    cast(min(event_ts) as date) as session_date,
    max(case when customers_so_far = 1 then customer_id end) as customer_id,
    min(event_ts) as started_at,
    max(event_ts) as ended_at,
    count(*) as events,
    sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
    sum(case when event_type = 'product_view' then 1 else 0 end) as product_views,
    sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_carts,
    sum(case when event_type = 'checkout_start' then 1 else 0 end) as checkouts,
    sum(case when event_type = 'purchase' then 1 else 0 end) as purchases,
    max(case when event_rank = 1 then device end) as device,
    max(case when campaigns_so_far = 1 then utm_campaign end) as utm_campaign
from ranked
group by session_id;
