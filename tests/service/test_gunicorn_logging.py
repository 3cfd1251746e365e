import logging
from types import SimpleNamespace

from gunicorn.config import Config

from service.gunicorn_logging import ScrubbingLogger


def test_access_log_lines_are_scrubbed(capsys):
    cfg = Config()
    cfg.set("accesslog", "-")
    log = ScrubbingLogger(cfg)
    environ = {"REQUEST_METHOD": "GET", "RAW_URI": "/v1/decisions/131052-308T",
               "PATH_INFO": "/v1/decisions/131052-308T", "QUERY_STRING": "",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"}
    resp = SimpleNamespace(status="404 NOT FOUND", sent=10, headers=[], response_length=10)
    req = SimpleNamespace(headers=[], path="/v1/decisions/131052-308T", query="",
                          uri="/v1/decisions/131052-308T", method="GET", version=(1, 1))
    log.access(resp, req, environ, __import__("datetime").timedelta(seconds=0.01))
    for handler in log.access_log.handlers:
        handler.flush()
    out = capsys.readouterr().out
    assert "/v1/decisions/<hetu>" in out and "131052" not in out
    assert isinstance(log.access_log, logging.Logger)
