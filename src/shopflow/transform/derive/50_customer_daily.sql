-- Rule 7: customer_daily, rebuilt for every affected (date, customer) row of
-- tmp_affected_keys (30, 45) from the analytics tables: the same rows a rebuild of the
-- whole affected dates gives, at the cost of the rows this load reaches. A (date,
-- customer) row exists for a non-cancelled order placed that day, a session dated that
-- day or a resolved interaction dated that day.
delete from analytics.customer_daily
using tmp_affected_keys as affected
where
    customer_daily.activity_date = affected.activity_date
    and customer_daily.customer_id = affected.customer_id;

-- The sessions of the affected customers, each paired with every affected date its
-- events can have (from its session_date to the date of its ended_at): the sessions whose
-- events without a customer count for an affected row (rule 6). A table of its own, so
-- that the events are joined with these few sessions, not with every session first.
drop table if exists tmp_key_sessions;

create temp table tmp_key_sessions as
select
    affected.activity_date,
    sessions.session_id,
    sessions.customer_id
from analytics.fct_session as sessions
inner join tmp_affected_keys as affected
    on
        sessions.customer_id = affected.customer_id
        and sessions.session_date <= affected.activity_date
        and sessions.ended_at >= affected.activity_date;

analyze tmp_key_sessions;

insert into analytics.customer_daily (
    activity_date,
    customer_id,
    orders,
    items,
    revenue_usd,
    sessions,
    page_views,
    product_views,
    add_to_carts,
    interactions,
    email_opens,
    email_clicks,
    converted,
    attributed_campaign_id
)
with

affected as (
    select
        activity_date,
        customer_id
    from tmp_affected_keys
),

-- The first and last affected dates: each fact table is read between them (implied by
-- the joins on the date; a range the scan can take from an index or the sort order, so
-- the cost follows the affected dates, not the history).
bounds as (
    select
        min(activity_date) as first_date,
        max(activity_date) as last_date
    from tmp_affected_keys
),

order_lines as (
    select
        order_line.order_date as activity_date,
        order_line.customer_id,
        order_line.order_id,
        order_line.order_ts,
        order_line.status,
        order_line.quantity,
        order_line.line_revenue_usd
    from analytics.fct_order_line as order_line
    inner join affected
        on
            order_line.order_date = affected.activity_date
            and order_line.customer_id = affected.customer_id
    where
        order_line.order_date >= (select bounds.first_date from bounds)
        and order_line.order_date <= (select bounds.last_date from bounds)
),

daily_orders as (
    select
        activity_date,
        customer_id,
        count(distinct case when status <> 'cancelled' then order_id end) as orders,
        sum(case when status <> 'cancelled' then quantity else 0 end) as items,
        sum(
            case when status not in ('cancelled', 'refunded') then line_revenue_usd else 0 end
        ) as revenue_usd,
        min(case when status <> 'cancelled' then order_ts end) as first_order_ts
    from order_lines
    group by activity_date, customer_id
),

daily_sessions as (
    select
        sessions.session_date as activity_date,
        sessions.customer_id,
        count(*) as sessions
    from analytics.fct_session as sessions
    inner join affected
        on
            sessions.session_date = affected.activity_date
            and sessions.customer_id = affected.customer_id
    where
        sessions.session_date >= (select bounds.first_date from bounds)
        and sessions.session_date <= (select bounds.last_date from bounds)
    group by sessions.session_date, sessions.customer_id
),

-- Rule 6: an event counts for its own customer, else for its session's.
attributed_events as (
    select
        events.event_date as activity_date,
        events.customer_id,
        events.event_type
    from analytics.fct_click_event as events
    inner join affected
        on
            events.event_date = affected.activity_date
            and events.customer_id = affected.customer_id
    where
        events.event_date >= (select bounds.first_date from bounds)
        and events.event_date <= (select bounds.last_date from bounds)
    union all
    select
        events.event_date as activity_date,
        key_sessions.customer_id,
        events.event_type
    from analytics.fct_click_event as events
    inner join tmp_key_sessions as key_sessions
        on
            events.session_id = key_sessions.session_id
            and events.event_date = key_sessions.activity_date
    where
        events.customer_id is null
        and events.event_date >= (select bounds.first_date from bounds)
        and events.event_date <= (select bounds.last_date from bounds)
),

daily_events as (
    select
        activity_date,
        customer_id,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        sum(case when event_type = 'product_view' then 1 else 0 end) as product_views,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_carts
    from attributed_events
    group by activity_date, customer_id
),

daily_interactions as (
    select
        interactions.interaction_date as activity_date,
        interactions.customer_id,
        count(*) as interactions,
        sum(case when interactions.type = 'email_open' then 1 else 0 end) as email_opens,
        sum(case when interactions.type = 'email_click' then 1 else 0 end) as email_clicks
    from analytics.fct_interaction as interactions
    inner join affected
        on
            interactions.interaction_date = affected.activity_date
            and interactions.customer_id = affected.customer_id
    where
        interactions.interaction_date >= (select bounds.first_date from bounds)
        and interactions.interaction_date <= (select bounds.last_date from bounds)
    group by interactions.interaction_date, interactions.customer_id
),

touches as (
    select
        daily_orders.activity_date,
        daily_orders.customer_id,
        interactions.campaign_id,
        row_number() over (
            partition by daily_orders.activity_date, daily_orders.customer_id
            order by interactions.occurred_at desc, interactions.interaction_id desc
        ) as recency
    from daily_orders
    inner join analytics.fct_interaction as interactions
        on
            daily_orders.customer_id = interactions.customer_id
            and daily_orders.first_order_ts - interval '7 days' <= interactions.occurred_at
            and daily_orders.first_order_ts >= interactions.occurred_at
    where
        interactions.type in ('email_click', 'sms_click', 'push_open')
        -- implied by the window; bounds the scan can skip other interactions by
        and interactions.interaction_date >= (
            select cast(bounds.first_date - interval '7 days' as date) from bounds
        )
        and interactions.interaction_date <= (select bounds.last_date from bounds)
),

last_touches as (
    select
        activity_date,
        customer_id,
        campaign_id
    from touches
    where recency = 1
),

daily_keys as (
    select
        activity_date,
        customer_id
    from daily_orders
    where orders > 0
    union
    select
        activity_date,
        customer_id
    from daily_sessions
    union
    select
        activity_date,
        customer_id
    from daily_interactions
)

select
    daily_keys.activity_date,
    daily_keys.customer_id,
    coalesce(daily_orders.orders, 0) as orders,
    coalesce(daily_orders.items, 0) as items,
    coalesce(daily_orders.revenue_usd, 0) as revenue_usd,
    coalesce(daily_sessions.sessions, 0) as sessions,
    coalesce(daily_events.page_views, 0) as page_views,
    coalesce(daily_events.product_views, 0) as product_views,
    coalesce(daily_events.add_to_carts, 0) as add_to_carts,
    coalesce(daily_interactions.interactions, 0) as interactions,
    coalesce(daily_interactions.email_opens, 0) as email_opens,
    coalesce(daily_interactions.email_clicks, 0) as email_clicks,
    coalesce(daily_orders.orders, 0) > 0 as converted,
    last_touches.campaign_id as attributed_campaign_id
from daily_keys
left join daily_orders
    on
        daily_keys.activity_date = daily_orders.activity_date
        and daily_keys.customer_id = daily_orders.customer_id
left join daily_sessions
    on
        daily_keys.activity_date = daily_sessions.activity_date
        and daily_keys.customer_id = daily_sessions.customer_id
left join daily_events
    on
        daily_keys.activity_date = daily_events.activity_date
        and daily_keys.customer_id = daily_events.customer_id
left join daily_interactions
    on
        daily_keys.activity_date = daily_interactions.activity_date
        and daily_keys.customer_id = daily_interactions.customer_id
left join last_touches
    on
        daily_keys.activity_date = last_touches.activity_date
        and daily_keys.customer_id = last_touches.customer_id;

drop table if exists tmp_key_sessions;

drop table if exists tmp_affected_keys;
