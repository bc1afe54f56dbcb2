-- Rule 3: interactions resolve to the customer with their email_hash (the smallest
-- customer_id if several share it). Candidates: this load's unresolved interactions,
-- and the stored ones whose email_hash arrives in this load's customers (so the result
-- does not depend on load order). A stored interaction left unresolved by an earlier
-- load had no customer with its hash then, so only a new customer can resolve it: the
-- stored unresolved rows need not be read (they accumulate with history).
create temp table tmp_resolved_interactions as
with

new_hashes as (
    select distinct delta.email_hash
    from delta_dim_customer as delta
),

-- A union of two joins, not `or ... in (subquery)`: the latter is a per-row subplan
-- on Postgres once the hashes outgrow work_mem (a full refresh of 200k customers).
candidates as (
    select
        unresolved.interaction_id,
        unresolved.email_hash,
        unresolved.customer_id,
        unresolved.interaction_date,
        unresolved.type
    from analytics.fct_interaction as unresolved
    inner join delta_fct_interaction as delta
        on
            unresolved.interaction_id = delta.interaction_id
            and unresolved.interaction_date = delta.interaction_date
    where unresolved.customer_id is null
    union
    select
        by_hash.interaction_id,
        by_hash.email_hash,
        by_hash.customer_id,
        by_hash.interaction_date,
        by_hash.type
    from analytics.fct_interaction as by_hash
    inner join new_hashes on by_hash.email_hash = new_hashes.email_hash
),

-- The customers of the candidates' hashes only, not of every stored customer: the scan
-- then grows with the day's candidates, not with dim_customer.
candidate_hashes as (
    select distinct candidates.email_hash
    from candidates
),

customers as (
    select
        customer.email_hash,
        min(customer.customer_id) as customer_id
    from analytics.dim_customer as customer
    inner join candidate_hashes on customer.email_hash = candidate_hashes.email_hash
    group by customer.email_hash
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

analyze tmp_resolved_interactions;

-- The date bounds are implied (each resolved row carries its own interaction_date): a
-- range the scan can take from an index or the sort order instead of the whole table.
update analytics.fct_interaction
set customer_id = tmp_resolved_interactions.resolved_customer_id
from tmp_resolved_interactions
where
    fct_interaction.interaction_id = tmp_resolved_interactions.resolved_interaction_id
    and fct_interaction.interaction_date = tmp_resolved_interactions.interaction_date
    and fct_interaction.interaction_date >= (
        select min(bounds.interaction_date) from tmp_resolved_interactions as bounds
    )
    and fct_interaction.interaction_date <= (
        select max(bounds.interaction_date) from tmp_resolved_interactions as bounds
    );
