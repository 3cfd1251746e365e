"""Signing in to the explorer and the CSRF check of its forms (service/explorer/signin.py)."""

from __future__ import annotations

import re
import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from service.explorer import signin
from tests.service.explorer.test_views import TRY, csrf, page, post_form

LIST = "/explorer/decisions"


def sign_in(client, token: str, next_url: str = LIST):
    return post_form(client, "/explorer/signin", {"token": token, "next": next_url})


def session_cookie(client):
    return client.get_cookie(signin.SESSION_COOKIE, path="/explorer")


def test_the_sign_in_page_carries_a_csrf_token_and_sets_its_cookie(client):
    html = page(client, "/explorer/signin?lang=en")
    assert '<label for="token">' in html and 'type="password"' in html
    token = re.search(r'name="csrf_token" value="([g-v]{64})"', html).group(1)
    cookie = client.get_cookie(signin.CSRF_COOKIE, path="/explorer")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert cookie.value != token             # the form carries the nonce's HMAC, not the nonce
    # the same browser gets the same token on its next page
    assert token == csrf(client)


def test_sign_in_once_then_every_page_knows_who(client, tokens):
    page(client, LIST, status=401)
    response = sign_in(client, tokens.raw["auditor"])
    assert response.status_code == 303 and response.headers["Location"].endswith(LIST)
    cookie = session_cookie(client)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    assert cookie.expires is not None and not cookie.secure
    # the cookie holds the token's id, never the token or its secret
    raw = tokens.raw["auditor"]
    assert raw not in cookie.value and raw.split("_", 2)[2] not in cookie.value
    html = page(client, LIST)
    assert "tarkastaja" in html                         # who is signed in, in the header
    assert 'action="/explorer/signout"' in html
    assert page(client, "/explorer/signin?lang=en").count("Signed in as") == 1


def test_the_cookie_is_secure_over_https(app, tokens):
    client = app.test_client()
    html = client.get("/explorer/signin", base_url="https://localhost").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    response = client.post("/explorer/signin", base_url="https://localhost",
                           data={"token": tokens.raw["planner"], "csrf_token": token})
    assert response.status_code == 303
    cookie = client.get_cookie(signin.SESSION_COOKIE, domain="localhost", path="/explorer")
    assert cookie is not None and cookie.secure


def test_a_wrong_token_gets_the_form_again(client):
    response = sign_in(client, "rr_nope_nope")
    assert response.status_code == 401
    assert 'id="err-token"' in response.get_data(as_text=True)
    assert session_cookie(client) is None


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(client, tokens):
    for url, data in (("/explorer/signin", {"token": tokens.raw["auditor"]}),
                      ("/explorer/signout", {}),
                      (TRY, {"as_of": "2025-03-10", "f.hours": "5"})):
        response = client.post(f"{url}?lang=en", data=data)
        html = response.get_data(as_text=True)
        assert response.status_code == 400, url
        assert "without its security check (csrf_token)" in html, url
        csrf(client)                                    # the browser has its cookie now
        response = client.post(f"{url}?lang=en", data={**data, "csrf_token": "g" * 64})
        assert response.status_code == 400, url
        assert "security check (csrf_token) does not match" in response.get_data(as_text=True)
    assert session_cookie(client) is None
    # another browser's token does not fit this browser's cookie
    other = client.application.test_client()
    response = other.post("/explorer/signin", data={"token": tokens.raw["auditor"],
                                                    "csrf_token": csrf(client)})
    assert response.status_code == 400


def test_sign_out_ends_the_session(client, tokens):
    sign_in(client, tokens.raw["planner"])
    page(client, LIST)
    assert client.post("/explorer/signout").status_code == 400      # no CSRF: still in
    page(client, LIST)
    response = post_form(client, "/explorer/signout", {})
    assert response.status_code == 303
    assert session_cookie(client) is None
    page(client, LIST, status=401)


def test_revoking_the_token_ends_the_session(client, tokens):
    sign_in(client, tokens.raw["auditor"])
    page(client, LIST)
    token_id = tokens.raw["auditor"].split("_")[1]
    assert tokens.store.revoke(token_id)
    page(client, LIST, status=401)


def test_an_expired_or_forged_cookie_is_refused(client, app, tokens):
    token_id = tokens.raw["auditor"].split("_")[1]
    with app.test_request_context("/explorer"):
        key = signin._key()

    class OldSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - app.config["EXPLORER_SESSION_SECONDS"] - 60

    salt = "rehab-rules explorer session"
    fresh = URLSafeTimedSerializer(key, salt=salt).dumps({"token_id": token_id})
    client.set_cookie(signin.SESSION_COOKIE, fresh, path="/explorer")
    page(client, LIST)                                 # the way a valid cookie is read
    expired = URLSafeTimedSerializer(key, salt=salt, signer=OldSigner).dumps({"token_id": token_id})
    client.set_cookie(signin.SESSION_COOKIE, expired, path="/explorer")
    page(client, LIST, status=401)
    forged = URLSafeTimedSerializer(b"another key", salt=salt).dumps({"token_id": token_id})
    client.set_cookie(signin.SESSION_COOKIE, forged, path="/explorer")
    page(client, LIST, status=401)
    client.set_cookie(signin.SESSION_COOKIE, "garbage", path="/explorer")
    page(client, LIST, status=401)


def test_after_sign_in_only_explorer_pages_are_followed(client, tokens):
    for target, lands in (("/explorer/policies/tiny", "/explorer/policies/tiny"),
                          ("https://evil.example/", "/explorer"),
                          ("//evil.example/explorer", "/explorer"),
                          ("/explorerx", "/explorer")):
        response = sign_in(client, tokens.raw["auditor"], target)
        assert response.headers["Location"] == lands, target


def test_the_old_login_and_logout_addresses_lead_to_the_sign_in_page(client):
    response = client.post("/explorer/login", data={"next": "/explorer/policies/tiny"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/explorer/signin?next=/explorer/policies/tiny"
    for method in (client.get, client.post):
        response = method("/explorer/logout")
        assert response.status_code == 303
        assert response.headers["Location"] == "/explorer/signin"


def test_every_page_links_to_the_decision_log_and_to_sign_in(client):
    html = page(client, "/explorer")
    assert 'href="/explorer/decisions" id="nav-decisions"' in html
    assert 'id="nav-signin"' in html


def test_the_session_lasts_explorer_session_seconds(client, app, tokens):
    app.config["EXPLORER_SESSION_SECONDS"] = "3600"          # as the environment gives it
    sign_in(client, tokens.raw["auditor"])
    response = client.get("/explorer/signin")
    assert response.status_code == 200
    cookie = session_cookie(client)
    assert cookie is not None and cookie.max_age == 3600
