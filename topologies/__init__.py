"""The only package that knows about Faust: app, agents, tables, views, metrics, CLI."""

__all__ = ["app", "broker", "cli", "metrics", "settings", "views", "worker"]
