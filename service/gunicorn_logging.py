"""gunicorn's loggers with the henkilötunnus scrub filter attached.

gunicorn writes its access and error logs through its own loggers, outside the ``service``
logger tree, so a code in a URL (``GET /v1/decisions/131052-308T``) would otherwise reach the
access log in clear text. The URL is logged as the client sent it, percent escapes and all:
the filter decodes them before matching (``?cursor=131052%2D308T`` is masked too).
``rehab-rules serve`` always runs gunicorn with this class.
"""

from __future__ import annotations

from typing import Any

from gunicorn import glogging

from service.masking import ScrubFilter

__all__ = ["ScrubbingLogger"]


class ScrubbingLogger(glogging.Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.access_log, self.error_log):
            logger.addFilter(ScrubFilter())
