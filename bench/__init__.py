"""Benchmarks against the real q cluster and web server: `make bench`.

bench.run prepares a fresh database per benchmark and runs each benchmark
module (lateness, ingest, fault) in its own Python process; each module
starts the servers it needs, measures, stops them, and reports rows for the
table that bench.run prints.
"""
