"""Notifications: short messages to a user (reminders fired by timers), read from the header."""
