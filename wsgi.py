"""WSGI entry point for production: ``gunicorn -w 4 -b 0.0.0.0:8000 wsgi:app`` (see docs/deployment.md)."""
from engine.errors import EngineError
from engine.storage.schema_state import require_current
from web import create_app

try:
    app = create_app()
    require_current(app.extensions["zjtx"].db)  # else every page would fail at its first query
except EngineError as exc:  # no secret, an uninitialised or outdated database …: say so, without a traceback
    raise SystemExit(f"无法启动：{exc.message}") from None
app.extensions["zjtx"].workflows.warm()  # script workers and the working calendar, before the first request
