"""Pure rules with no I/O: easy to test, safe to import from anywhere."""
