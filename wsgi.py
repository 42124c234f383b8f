"""WSGI entry point for production: ``gunicorn -w 4 -b 0.0.0.0:8000 wsgi:app`` (see docs/deployment.md)."""
from web import create_app

app = create_app()
app.extensions["zjtx"].workflows.warm()  # script workers and the working calendar, before the first request
