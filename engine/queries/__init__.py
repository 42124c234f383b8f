"""Read models: inbox, task and item views, the dashboard."""
