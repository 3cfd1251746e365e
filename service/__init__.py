"""rehab-rules HTTP service: a Flask app over the engine, with a decision log.

Use ``create_app(config)``; the ``rehab-rules`` CLI adds ``db``, ``tokens`` and ``serve``.
"""

from service.app import create_app

__all__ = ["create_app"]
