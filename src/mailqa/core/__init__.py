"""The core: parse a message once, run checks on it, produce one report.

Nothing here imports the web framework, the task queue or the database layer.
"""
