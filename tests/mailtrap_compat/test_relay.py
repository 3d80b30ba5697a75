"""Forward / release through a real SMTP relay (aiosmtpd sinks on loopback)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
import trustme

from mailqa.app import create_app
from mailqa.relay import Relay, RelayError
from mailqa.service import open_service
from mailqa.settings import Settings
from mailqa.worker.selection import select_executor

from .conftest import ADMIN_TOKEN, Stack, start_sink

RAW = (
    b"From: App <app@app.example>\r\nTo: user@example.com\r\nSubject: release me\r\n"
    b"Message-ID: <r1@app.example>\r\n\r\nbody\r\n"
)


def relay_settings(tmp_path: Path, **values: object) -> Settings:
    base: dict[str, object] = {
        "data_dir": tmp_path,
        "relay_host": "127.0.0.1",
        "relay_starttls": False,
        "relay_allowed_recipients": ["*@allowed.example"],
        "relay_timeout": 5.0,
    }
    base.update(values)
    return Settings(**base)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_recipient_patterns_are_whole_address_and_case_blind(tmp_path: Path) -> None:
    relay = Relay(
        relay_settings(tmp_path, relay_allowed_recipients=["*@allowed.example", "qa@x.io"])
    )
    assert relay.allowed("Dev@Allowed.Example")
    assert relay.allowed("qa@x.io")
    assert not relay.allowed("dev@allowed.example.evil.com")
    assert not relay.allowed("qa2@x.io")
    nobody = Relay(relay_settings(tmp_path, relay_allowed_recipients=[]))
    with pytest.raises(RelayError) as err:
        nobody.vet(["dev@allowed.example"])
    assert err.value.status == 403 and "allows none" in err.value.message


def test_without_a_relay_the_error_says_how_to_configure_one(tmp_path: Path) -> None:
    with pytest.raises(RelayError) as err:
        Relay(relay_settings(tmp_path, relay_host=None)).vet(["a@allowed.example"])
    assert err.value.status == 400 and err.value.code == "relay_not_configured"
    assert "MAILQA_RELAY_HOST" in err.value.message
    assert "MAILQA_RELAY_ALLOWED_RECIPIENTS" in err.value.message


@pytest.mark.parametrize("bad", ["", "no-at-sign", "a@b.example\r\nRCPT TO:<x@y>", "a b@c.d"])
def test_bad_recipients_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(RelayError) as err:
        Relay(relay_settings(tmp_path, relay_allowed_recipients=["*"])).vet([bad])
    assert err.value.status == 422


async def test_starttls_and_auth_reach_the_relay(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    sink, server, port = await start_sink(tls=ca.issue_cert("127.0.0.1"), login=("relay", "s3cret"))
    try:
        settings = relay_settings(
            tmp_path,
            relay_port=port,
            relay_starttls=True,
            relay_tls_ca_file=ca_file,
            relay_username="relay",
            relay_password="s3cret",
        )
        result = await Relay(settings).forward(RAW, "bounce@app.example", ["dev@allowed.example"])
        assert result.recipients == ["dev@allowed.example"]
        (delivery,) = await sink.wait(1)
        assert delivery.login == "relay" and delivery.mail_from == "bounce@app.example"
        assert delivery.data.rstrip(b"\r\n") == RAW.rstrip(b"\r\n")

        wrong = settings.model_copy(update={"relay_password": "nope"})
        with pytest.raises(RelayError) as err:
            await Relay(wrong).forward(RAW, None, ["dev@allowed.example"])
        assert err.value.status == 502 and err.value.code == "relay_auth_failed"

        untrusted = settings.model_copy(update={"relay_tls_ca_file": None})
        with pytest.raises(RelayError) as err:
            await Relay(untrusted).forward(RAW, None, ["dev@allowed.example"])
        assert err.value.status == 502 and "CERTIFICATE_VERIFY_FAILED" in err.value.message
        assert len(sink.deliveries) == 1
    finally:
        server.close()
        await server.wait_closed()


async def test_unreachable_relay_is_a_502(tmp_path: Path) -> None:
    relay = Relay(relay_settings(tmp_path, relay_port=free_port()))
    with pytest.raises(RelayError) as err:
        await relay.forward(RAW, None, ["dev@allowed.example"])
    assert err.value.status == 502 and err.value.code == "relay_unreachable"


@pytest.mark.slow
async def test_native_release_sends_to_given_or_original_recipients(stack: Stack) -> None:
    async with stack.client() as http:
        sent = await http.post(
            "/api/send/" + str(await _inbox(stack)),
            json={
                "from": {"email": "app@app.example"},
                "to": [{"email": "dev@allowed.example"}],
                "cc": [{"email": "boss@elsewhere.example"}],
                "subject": "release",
                "text": "x",
            },
        )
        message_id = int(sent.json()["message_ids"][0])
        before = len(stack.sink.deliveries)

        refused = await http.post(f"/api/v1/messages/{message_id}/release")
        assert refused.status_code == 403
        assert "boss@elsewhere.example" in refused.json()["message"]
        assert len(stack.sink.deliveries) == before

        released = await http.post(
            f"/api/v1/messages/{message_id}/release", json={"to": ["dev@allowed.example"]}
        )
        assert released.status_code == 200, released.text
        assert released.json()["recipients"] == ["dev@allowed.example"]
        delivery = (await stack.sink.wait(before + 1))[-1]
        assert delivery.rcpt_tos == ["dev@allowed.example"]
        assert delivery.data.rstrip(b"\r\n") == (
            await stack.service.store.get_raw(message_id)
        ).rstrip(b"\r\n")

        missing = await http.post("/api/v1/messages/999999/release")
        assert missing.status_code == 404


async def _inbox(stack: Stack) -> int:
    project = await stack.service.store.create_project("release")
    return (await stack.service.store.create_inbox(project.id, "release", 10_000_000)).id


async def test_release_without_relay_is_a_clear_400(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, api_token=ADMIN_TOKEN, checks=["headers"], spamd_managed="off"
    )
    async with open_service(settings, executor=select_executor) as service:
        await service.ensure_admin_token()
        project = await service.store.create_project("p")
        inbox = await service.store.create_inbox(project.id, "i", 1_000_000)
        message_id = await service.capture(RAW, inbox.id)
        app = create_app(settings, service)
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://mailqa", headers=headers
        ) as http:
            native = await http.post(f"/api/v1/messages/{message_id}/release")
            forward = await http.post(
                f"/api/accounts/1/inboxes/{inbox.id}/messages/{message_id}/forward",
                json={"email": "a@example.com"},
            )
    assert native.status_code == 400 and native.json()["error"] == "relay_not_configured"
    assert "MAILQA_RELAY_HOST" in native.json()["message"]
    assert forward.status_code == 400 and "MAILQA_RELAY_HOST" in forward.json()["error"]
