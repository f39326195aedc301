"""Inbound email: messages from ESPs and local mail servers turned into alerts."""
