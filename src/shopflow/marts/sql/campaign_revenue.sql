-- campaign_revenue: per attributed campaign (none: no campaign touched the customer
-- before the order), the customers active on :business_date, the converted ones, their
-- orders and their revenue in USD, from customer_daily.
select
    coalesce(attributed_campaign_id, '') as campaign_id,
    count(*) as customers,
    sum(case when converted then 1 else 0 end) as converted_customers,
    sum(orders) as orders,
    sum(revenue_usd) as revenue_usd
from analytics.customer_daily
where activity_date = cast(:business_date as date)
group by coalesce(attributed_campaign_id, '')
order by revenue_usd desc, campaign_id asc
