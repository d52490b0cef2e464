"""Outgoing chat messages: an outbox row first, then delivery with retries."""
