"""Writers of generated days into the four sources, each idempotent per day."""
