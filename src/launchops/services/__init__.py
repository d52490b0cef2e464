"""Use cases over the store. Services return data or raise typed errors; never chat markup."""
