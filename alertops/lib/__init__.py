"""Small helpers with no knowledge of the apps: every app may import these."""
