-- Rule 3: interactions resolve to the customer with their email_hash (the smallest
-- customer_id if several share it). Candidates: every unresolved interaction, and those
-- whose email_hash arrives in this load's customers (so the result does not depend on
-- load order).
create temp table tmp_resolved_interactions as
with

customers as (
    select
        email_hash,
        min(customer_id) as customer_id
    from analytics.dim_customer
    group by email_hash
),

candidates as (
    select
        interaction_id,
        email_hash,
        customer_id,
        interaction_date,
        type
    from analytics.fct_interaction
    where
        customer_id is null
        or email_hash in (select delta.email_hash from delta_dim_customer as delta)
)

select
    candidates.interaction_id as resolved_interaction_id,
    customers.customer_id as resolved_customer_id,
    candidates.interaction_date,
    candidates.type
from candidates
inner join customers on candidates.email_hash = customers.email_hash
where
    candidates.customer_id is null
    or candidates.customer_id <> customers.customer_id;

update analytics.fct_interaction
set customer_id = resolved_customer_id
from tmp_resolved_interactions
where interaction_id = resolved_interaction_id;
