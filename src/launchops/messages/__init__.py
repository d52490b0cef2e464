"""What the bot says, below everything that says it: the neutral `Reply`, the message
catalogue (English and Korean) and the incident cards. Services queue these in the outbox and
adapters render them, so this package imports nothing above `domain/`."""
