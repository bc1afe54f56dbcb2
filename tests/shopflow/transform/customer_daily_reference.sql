-- customer_daily as a rebuild of every date gives it (rule 7 over the whole warehouse): the
-- oracle of the derive scenarios for the keyed rebuild of derive 30, 45 and 50 (rule 8).
-- The query of 50_customer_daily.sql without its restriction to the affected rows.
with

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
    where sessions.customer_id is not null
    group by sessions.session_date, sessions.customer_id
),

attributed_events as (
    select
        events.event_date as activity_date,
        coalesce(events.customer_id, sessions.customer_id) as customer_id,
        events.event_type
    from analytics.fct_click_event as events
    left join analytics.fct_session as sessions on events.session_id = sessions.session_id
),

daily_events as (
    select
        activity_date,
        customer_id,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        sum(case when event_type = 'product_view' then 1 else 0 end) as product_views,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_carts
    from attributed_events
    where customer_id is not null
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
    where interactions.customer_id is not null
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
    where interactions.type in ('email_click', 'sms_click', 'push_open')
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
        and daily_keys.customer_id = last_touches.customer_id
