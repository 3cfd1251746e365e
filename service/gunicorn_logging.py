"""gunicorn's loggers with the henkilötunnus scrub filter attached, and its own error pages
scrubbed too.

gunicorn writes its access and error logs through its own loggers, outside the ``service``
logger tree, so a code in a URL (``GET /v1/decisions/131052-308T``) would otherwise reach the
access log in clear text. The URL is logged as the client sent it, percent escapes and all,
and gunicorn reads the request line and headers as latin-1: the filter decodes both before
matching (``?cursor=131052%2D308T`` and UTF-8 read as ``ï¼‘…`` are masked too).

A request gunicorn itself refuses (a request line it cannot parse, say) is answered by
gunicorn with a small HTML page quoting what was sent — past Flask and every scrub of ours.
:func:`scrub_error_pages` wraps ``gunicorn.util.write_error`` so that page quotes ``<hetu>``.
``rehab-rules serve`` always runs gunicorn with :class:`ScrubbingLogger`, which installs it.
"""

from __future__ import annotations

import functools
from typing import Any

from gunicorn import glogging, util

from service.masking import ScrubFilter, scrub_text

__all__ = ["ScrubbingLogger", "scrub_error_pages"]


def scrub_error_pages() -> None:
    """gunicorn's own error pages (400 for a bad request line …) without codes; once."""
    if getattr(util.write_error, "_scrubbed", False):
        return
    original = util.write_error

    @functools.wraps(original)
    def write_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
        original(sock, status_int, scrub_text(str(reason)), scrub_text(str(mesg)))

    write_error._scrubbed = True  # type: ignore[attr-defined]
    util.write_error = write_error


class ScrubbingLogger(glogging.Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.access_log, self.error_log):
            logger.addFilter(ScrubFilter())
        scrub_error_pages()          # the master sets it up; the workers it forks inherit it
