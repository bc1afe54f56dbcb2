"""Small downstream marts and exports, scheduled on the warehouse assets (ADR 0009)."""
