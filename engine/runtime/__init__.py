"""The runtime: starting and completing instances, the steps, projection of tasks, serialization,
diagram code (scripting and sandbox), forms, operations."""
