"""Outbound webhooks: alert events posted to other systems, signed and retried."""
