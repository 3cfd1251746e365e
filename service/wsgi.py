"""The WSGI entry point gunicorn loads (``service.wsgi:app``); configured by the environment."""

from service import create_app

__all__ = ["app"]

app = create_app()
