"""The chat channels: one Core for every command, the replies, state, daily excerpts, console and Telegram."""
