"""Signal receivers of inbound email, connected when the app starts."""
