"""The platform-neutral side of chat: grammar, commands, replies and the message catalogue."""
