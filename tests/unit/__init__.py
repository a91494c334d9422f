"""Unit tests of the pure modules: no I/O, no processes, a fixed clock."""
