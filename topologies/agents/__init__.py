"""Faust agents: each body moves data between Kafka, tables and the pure functions."""
