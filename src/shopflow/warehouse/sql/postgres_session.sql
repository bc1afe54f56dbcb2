-- Settings of every warehouse session on Postgres: UTC, and ISO dates so that
-- checksums render timestamps the same way whatever the server's defaults. No JIT:
-- the load's and the checks' statements run once each, and their compile time
-- (about 2 s per statement once the cost estimate passes jit_above_cost, which the
-- history's size soon does) exceeded their run time (bench/README.md, history.py).
-- work_mem: the derive joins and sorts a few days of facts; at the server default
-- (4 MB) they spilled to disk.
set timezone = 'UTC';
set datestyle = 'ISO, YMD';
set jit = off;
set work_mem = '256MB';
