"""The "Administration" link is for administrators only; the admin page tells others why and links back.

Over real HTTP, no browser (issue 12 item 7).
"""

from __future__ import annotations

import re

import httpx
import pytest

from tests.mock.support import sign_in_over_http

ADMIN_GROUP = "jira-administrators"
SIGNED_IN_PAGES = ["/dashboard", "/account", "/account/totp"]


@pytest.fixture
def client(mock_server):
    with httpx.Client(base_url=mock_server.url, follow_redirects=False) as c:
        yield c


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_a_non_admin_sees_no_administration_link(mock_server, client, path):
    sign_in_over_http(mock_server, client)
    r = client.get(path)
    assert r.status_code == 200
    assert 'id="nav-account"' in r.text  # the menu is there ...
    assert 'id="nav-admin"' not in r.text and 'href="/admin"' not in r.text  # ... without the admin link


@pytest.mark.parametrize("path", [*SIGNED_IN_PAGES, "/admin"])
def test_an_admin_sees_the_administration_link(mock_server, client, path):
    sign_in_over_http(mock_server, client, groups=(ADMIN_GROUP,))
    r = client.get(path)
    assert r.status_code == 200
    assert re.search(r'<a href="/admin" id="nav-admin"[^>]*>Administration</a>', r.text)


def test_the_admin_page_tells_a_non_admin_why_and_links_back(mock_server, client):
    user = sign_in_over_http(mock_server, client)
    r = client.get("/admin")
    assert r.status_code == 403
    assert '<h1 id="forbidden" data-testid="forbidden">Administrators only</h1>' in r.text
    reason = r.text.split('id="forbidden-reason"', 1)[1].split("</p>", 1)[0]
    assert f"<code>{ADMIN_GROUP}</code>" in reason and f"<strong>{user}</strong>" in reason
    assert f"tracker2fa verifier admin add-to-group {user} {ADMIN_GROUP}" in r.text
    assert re.search(r'<a href="/dashboard" id="forbidden-back"[^>]*>Back to your issues</a>', r.text)
    assert 'id="nav-admin"' not in r.text


def test_joining_the_admin_group_shows_the_link_on_the_next_page(mock_server, client):
    user = sign_in_over_http(mock_server, client)
    assert 'id="nav-admin"' not in client.get("/dashboard").text
    mock_server.verifier.add_to_group(user, ADMIN_GROUP)
    assert 'id="nav-admin"' in client.get("/dashboard").text
    assert client.get("/admin").status_code == 200
