"""Schedules, rotations and overrides (not built yet: groups use static order)."""
