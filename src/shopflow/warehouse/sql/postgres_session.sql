-- Settings of every warehouse session on Postgres: UTC, and ISO dates so that
-- checksums render timestamps the same way whatever the server's defaults.
set timezone = 'UTC';
set datestyle = 'ISO, YMD';
