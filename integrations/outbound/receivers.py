"""Signal receivers of outbound webhooks, connected when the app starts."""
