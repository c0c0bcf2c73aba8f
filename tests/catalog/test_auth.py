"""Earthdata credentials: environment, .netrc, bearer tokens, and never a secret in any text."""

from __future__ import annotations

import base64
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from lstcloud.catalog.auth import (
    EarthdataCredentials,
    bearer_token,
    earthdata_credentials,
    earthdata_storage_options,
    is_earthdata_href,
)
from lstcloud.errors import CatalogError

SECRET = "s3cr3t-Pa55"
LP_URL = "https://data.lpdaac.earthdatacloud.nasa.gov/lp-prod-protected/MOD11A1.061/g/g.hdf"


def test_token_from_environment_wins():
    env = {"EARTHDATA_TOKEN": "tok", "EARTHDATA_USERNAME": "u", "EARTHDATA_PASSWORD": "p"}
    creds = earthdata_credentials(environ=env)
    assert creds.token == "tok" and creds.source == "environment"
    assert earthdata_storage_options(LP_URL, credentials=creds) == {
        "headers": {"Authorization": "Bearer tok"}
    }


def test_half_given_environment_is_an_error_without_the_secret():
    with pytest.raises(CatalogError, match="together") as info:
        earthdata_credentials(environ={"EARTHDATA_PASSWORD": SECRET})
    assert SECRET not in str(info.value)


def test_netrc_entry_for_urs(tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text(
        f"machine example.com login x password y\n"
        f"machine urs.earthdata.nasa.gov login alice password {SECRET}\n"
    )
    netrc.chmod(0o600)
    creds = earthdata_credentials(environ={}, netrc_path=netrc)
    assert (creds.username, creds.password) == ("alice", SECRET)
    assert creds.source == f"netrc:{netrc}"
    assert SECRET not in repr(creds) and SECRET not in str(creds) and "alice" not in repr(creds)
    assert earthdata_credentials(environ={}, netrc_path=tmp_path / "absent") is None


def test_broken_netrc_is_reported_without_its_content(tmp_path):
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine urs.earthdata.nasa.gov login alice password {SECRET} bogus\n")
    netrc.chmod(0o600)
    with pytest.raises(CatalogError, match="netrc") as info:
        earthdata_credentials(environ={}, netrc_path=netrc)
    assert SECRET not in str(info.value)


def test_credentials_only_go_to_earthdata_hosts(tmp_path):
    creds = EarthdataCredentials(token="tok")
    assert is_earthdata_href(LP_URL)
    assert is_earthdata_href("https://e4ftl01.cr.usgs.gov/MOLT/x.hdf")
    for other in (
        "https://evil.example.com/earthdatacloud.nasa.gov/x.hdf",
        "https://nasa.gov.evil.example.com/x.hdf",
        "http://data.lpdaac.earthdatacloud.nasa.gov/x.hdf",  # never over plain http
        "/local/x.hdf",
        "s3://lp-prod-protected/x.hdf",
    ):
        assert not is_earthdata_href(other)
        assert earthdata_storage_options(other, credentials=creds) == {}
    no_credentials = {"NETRC": str(tmp_path / "absent-netrc")}
    assert earthdata_storage_options(LP_URL, environ=no_credentials) == {}


class _FakeURS(BaseHTTPRequestHandler):
    calls: ClassVar[list[str]] = []

    def log_message(self, format, *args):  # quiet
        return

    def do_POST(self):
        auth = self.headers.get("Authorization", "")
        type(self).calls.append(self.path)
        expected = "Basic " + base64.b64encode(f"alice:{SECRET}".encode()).decode()
        if self.path == "/api/users/find_or_create_token" and auth == expected:
            body, status = json.dumps({"access_token": "edl-token", "token_type": "Bearer"}), 200
        else:
            body, status = json.dumps({"error": "invalid_credentials"}), 401
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())


@pytest.fixture
def fake_urs():
    _FakeURS.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeURS)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_username_password_exchanged_once_for_a_bearer_token(fake_urs, caplog, capsys):
    creds = EarthdataCredentials(username="alice", password=SECRET)
    with caplog.at_level(logging.DEBUG):
        options = earthdata_storage_options(LP_URL, credentials=creds, urs_url=fake_urs)
        again = bearer_token(creds, urs_url=fake_urs)
    assert options == {"headers": {"Authorization": "Bearer edl-token"}}
    assert again == "edl-token"
    assert _FakeURS.calls == ["/api/users/find_or_create_token"]  # cached
    out, err = capsys.readouterr()
    assert SECRET not in caplog.text + out + err


def test_refused_credentials_give_a_clear_error_without_them(fake_urs):
    creds = EarthdataCredentials(username="alice", password="wrong-" + SECRET, source="netrc:/x")
    with pytest.raises(CatalogError) as info:
        bearer_token(creds, urs_url=fake_urs)
    message = str(info.value)
    assert "HTTP 401" in message and fake_urs in message and "netrc:/x" in message
    assert SECRET not in message and "alice" not in message


class _Protected(BaseHTTPRequestHandler):
    """Serves bytes only to ``Authorization: Bearer edl-token`` (like LP DAAC with a token)."""

    def log_message(self, format, *args):  # quiet
        return

    def do_GET(self):
        ok = self.headers.get("Authorization") == "Bearer edl-token"
        body = b"HDF-granule-bytes" if ok else b"unauthorized"
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_storage_options_authenticate_fsspec_https_reads():
    import aiohttp
    import fsspec

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Protected)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/g.hdf"
    try:
        options = earthdata_storage_options(
            LP_URL, credentials=EarthdataCredentials(token="edl-token")
        )
        assert fsspec.filesystem("http", **options).cat(url) == b"HDF-granule-bytes"
        with pytest.raises(aiohttp.ClientResponseError, match="401"):  # no token, no bytes
            fsspec.filesystem("http").cat(url)
    finally:
        server.shutdown()
        server.server_close()
