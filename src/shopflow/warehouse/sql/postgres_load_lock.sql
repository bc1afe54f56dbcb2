-- The load lock: one transaction-scoped advisory lock for every load of this
-- database, released by commit or rollback. The key is the bytes of "shopflow".
select pg_advisory_xact_lock(8316019240485023607);
