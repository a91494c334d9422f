"""CLI command `notify drill` (filled in below)."""
