"""The WeChat Pay and Alipay adapters, with keys made here and no network.

The signatures are made with RSA keys generated for the test, the way each
provider makes them; only the SDKs' HTTP layer is replaced, never our
database.
"""

import base64
import datetime
import json
import secrets
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from dues.gateways import BadSignature, get_gateway, sandbox
from dues.models import GatewayNotification, LedgerEntry, Refund
from dues.services import payments
from tests.dues import arrange
from tests.dues.paying import FEB, JAN, open_order, run_tasks_in_process

pytestmark = pytest.mark.django_db

APIV3_KEY = "0123456789abcdef0123456789abcdef"
SERIAL = 0x5157F7D5A6E2B3C4


@pytest.fixture(autouse=True)
def _tasks_in_process(settings):
    run_tasks_in_process(settings)


@pytest.fixture
def owed(member, branch_a):
    return arrange.make_entries(member, branch_a, JAN, 4)


def _key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _public_pem(key) -> str:
    return (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )


def _rsa_sign(key, message: str) -> str:
    signature = key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


# Sandbox


def test_the_sandbox_signature_covers_the_whole_body():
    body = sandbox.canonical_body({"reference": "DF1", "amount": "15.00"})

    assert sandbox.sign(body) == sandbox.sign(body)
    assert sandbox.sign(body) != sandbox.sign(body.replace(b"15", b"16"))
    assert sandbox.sign(body) != sandbox.sign(body, "another-secret")


def test_the_sandbox_refuses_a_forged_callback(member, owed):
    order = open_order(member, [JAN])
    request = sandbox.notification_request(
        {"reference": order.reference, "status": "paid", "amount": "15.00"},
        secret="forged",
    )

    with pytest.raises(BadSignature):
        get_gateway("sandbox").parse_notification(request)


def test_there_is_no_gateway_for_cash():
    with pytest.raises(ValueError, match="cash"):
        get_gateway("cash")


# WeChat Pay


@pytest.fixture
def wechat(settings, tmp_path):
    """A merchant key and a platform certificate, as WeChat Pay issues them."""
    merchant, platform = _key(), _key()
    (tmp_path / "merchant.pem").write_text(_private_pem(merchant))
    certificates = tmp_path / "certs"
    certificates.mkdir()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(platform.public_key())
        .serial_number(SERIAL)
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .sign(platform, hashes.SHA256())
    )
    (certificates / f"{SERIAL:X}.pem").write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
    )
    settings.WECHATPAY_MCHID = "1900000109"
    settings.WECHATPAY_APPID = "wxd678efh567hg6787"
    settings.WECHATPAY_CERT_SERIAL_NO = "444F4864EA9B34415"
    settings.WECHATPAY_PRIVATE_KEY_FILE = str(tmp_path / "merchant.pem")
    settings.WECHATPAY_APIV3_KEY = APIV3_KEY
    settings.WECHATPAY_CERT_DIR = str(certificates)
    return platform


def _wechat_headers(key, body: str) -> dict:
    timestamp, nonce = "1767225600", secrets.token_hex(16)
    return {
        "HTTP_WECHATPAY_SIGNATURE": _rsa_sign(key, f"{timestamp}\n{nonce}\n{body}\n"),
        "HTTP_WECHATPAY_TIMESTAMP": timestamp,
        "HTTP_WECHATPAY_NONCE": nonce,
        "HTTP_WECHATPAY_SERIAL": f"{SERIAL:X}",
        "HTTP_WECHATPAY_SIGNATURE_TYPE": "WECHATPAY2-SHA256-RSA2048",
    }


def _wechat_callback(order, *, total=None, state="SUCCESS", refund=None) -> str:
    resource = refund or {
        "mchid": "1900000109",
        "out_trade_no": order.reference,
        "transaction_id": "4200001234202604150000000001",
        "trade_state": state,
        "amount": {"total": total if total is not None else 3000, "currency": "CNY"},
    }
    event = "REFUND.SUCCESS" if refund else "TRANSACTION.SUCCESS"
    nonce = secrets.token_hex(6)
    ciphertext = AESGCM(APIV3_KEY.encode()).encrypt(
        nonce.encode(), json.dumps(resource).encode(), b"transaction"
    )
    return json.dumps(
        {
            "id": "EV-1",
            "event_type": event,
            "resource_type": "encrypt-resource",
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "nonce": nonce,
                "associated_data": "transaction",
                "original_type": "transaction",
            },
        }
    )


def _post_wechat(client, body: str, headers: dict):
    return client.post(
        "/pay/callback/wechat/", data=body, content_type="application/json", **headers
    )


def test_a_wechat_callback_signed_by_the_platform_credits_the_order(
    client, member, owed, wechat
):
    order = open_order(member, [JAN, FEB], channel="wechat")
    body = _wechat_callback(order)

    response = _post_wechat(client, body, _wechat_headers(wechat, body))

    assert response.status_code == 204
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.gateway_transaction_id == "4200001234202604150000000001"
    assert LedgerEntry.objects.filter(payment=order).count() == 2


def test_a_tampered_wechat_callback_is_refused(client, member, owed, wechat):
    order = open_order(member, [JAN, FEB], channel="wechat")
    body = _wechat_callback(order)
    headers = _wechat_headers(wechat, body)

    response = _post_wechat(client, body.replace("EV-1", "EV-2"), headers)

    assert response.status_code == 400
    assert response.json()["code"] == "FAIL"
    assert GatewayNotification.objects.get().outcome == "bad_signature"
    order.refresh_from_db()
    assert order.status == "pending"


def test_a_wechat_callback_signed_with_another_key_is_refused(
    client, member, owed, wechat
):
    order = open_order(member, [JAN, FEB], channel="wechat")
    body = _wechat_callback(order)

    response = _post_wechat(client, body, _wechat_headers(_key(), body))

    assert response.status_code == 400
    assert GatewayNotification.objects.get().outcome == "bad_signature"


def test_a_wechat_amount_in_fen_is_checked_exactly(client, member, owed, wechat):
    order = open_order(member, [JAN, FEB], channel="wechat")
    body = _wechat_callback(order, total=2999)

    _post_wechat(client, body, _wechat_headers(wechat, body))

    record = GatewayNotification.objects.get()
    assert (record.outcome, record.amount) == ("mismatch", Decimal("29.99"))


class _Response:
    """What ``requests`` returns, signed by the platform as WeChat Pay does."""

    def __init__(self, key, status: int, data: dict):
        self.status_code = status
        self.text = json.dumps(data)
        signed = _wechat_headers(key, self.text)
        self.headers = {
            "Content-Type": "application/json",
            "Wechatpay-Signature": signed["HTTP_WECHATPAY_SIGNATURE"],
            "Wechatpay-Timestamp": signed["HTTP_WECHATPAY_TIMESTAMP"],
            "Wechatpay-Nonce": signed["HTTP_WECHATPAY_NONCE"],
            "Wechatpay-Serial": signed["HTTP_WECHATPAY_SERIAL"],
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }


def test_a_wechat_native_order_returns_the_code_url(member, owed, wechat, monkeypatch):
    import wechatpayv3.core

    sent = {}

    def post(url, json=None, **kwargs):
        sent.update(url=url, data=json)
        return _Response(wechat, 200, {"code_url": "weixin://wxpay/bizpayurl?pr=abc"})

    monkeypatch.setattr(wechatpayv3.core.requests, "post", post)
    order = open_order(member, [JAN, FEB], channel="wechat")

    url = payments.start_payment(order, return_url="/dues/")

    assert url == "weixin://wxpay/bizpayurl?pr=abc"
    assert sent["url"].endswith("/v3/pay/transactions/native")
    assert sent["data"]["amount"] == {"total": 3000, "currency": "CNY"}
    assert sent["data"]["out_trade_no"] == order.reference
    assert sent["data"]["notify_url"].endswith("/pay/callback/wechat/")


def test_wechat_reconciliation_settles_a_paid_order(member, owed, wechat, monkeypatch):
    import wechatpayv3.core

    order = open_order(member, [JAN, FEB], channel="wechat")
    paid = {
        "out_trade_no": order.reference,
        "transaction_id": "4200009999",
        "trade_state": "SUCCESS",
        "amount": {"total": 3000, "payer_total": 3000, "currency": "CNY"},
    }
    monkeypatch.setattr(
        wechatpayv3.core.requests, "get", lambda url, **kw: _Response(wechat, 200, paid)
    )

    later = order.created_at + datetime.timedelta(minutes=30)
    counts = payments.reconcile_pending(now=later)

    assert counts["settled"] == 1
    order.refresh_from_db()
    assert (order.status, order.gateway_transaction_id) == ("paid", "4200009999")


def test_a_wechat_refund_is_requested_in_fen(
    member, owed, wechat, monkeypatch, secretary_of_a, client
):
    import wechatpayv3.core

    order = open_order(member, [JAN, FEB], channel="wechat")
    body = _wechat_callback(order)
    _post_wechat(client, body, _wechat_headers(wechat, body))
    sent = {}

    def post(url, json=None, **kwargs):
        sent.update(url=url, data=json)
        return _Response(wechat, 200, {"refund_id": "5030", "status": "SUCCESS"})

    monkeypatch.setattr(wechatpayv3.core.requests, "post", post)

    refund = payments.refund(
        actor=secretary_of_a, order=order, months=[FEB], reason="paid twice"
    )

    assert sent["url"].endswith("/v3/refund/domestic/refunds")
    assert sent["data"]["amount"] == {"refund": 1500, "total": 3000, "currency": "CNY"}
    assert sent["data"]["out_refund_no"] == refund.reference
    assert (refund.status, refund.gateway_refund_id) == ("succeeded", "5030")


def test_a_wechat_refund_in_process_is_completed_by_its_notice(
    member, owed, wechat, monkeypatch, secretary_of_a, client
):
    import wechatpayv3.core

    order = open_order(member, [JAN, FEB], channel="wechat")
    body = _wechat_callback(order)
    _post_wechat(client, body, _wechat_headers(wechat, body))
    monkeypatch.setattr(
        wechatpayv3.core.requests,
        "post",
        lambda url, **kw: _Response(
            wechat, 200, {"refund_id": "5031", "status": "PROCESSING"}
        ),
    )
    refund = payments.refund(
        actor=secretary_of_a, order=order, months=[FEB], reason="paid twice"
    )
    assert refund.status == "requested"
    notice = _wechat_callback(
        order,
        refund={
            "out_trade_no": order.reference,
            "out_refund_no": refund.reference,
            "refund_id": "5031",
            "refund_status": "SUCCESS",
        },
    )

    response = _post_wechat(client, notice, _wechat_headers(wechat, notice))

    assert response.status_code == 204
    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id) == ("succeeded", "5031")
    assert GatewayNotification.objects.filter(outcome="refunded").count() == 1


# Alipay


@pytest.fixture
def alipay_keys(settings, tmp_path):
    """The app's key pair and Alipay's, as configured for a merchant."""
    app, platform = _key(), _key()
    (tmp_path / "app.pem").write_text(_private_pem(app))
    (tmp_path / "alipay.pem").write_text(_public_pem(platform))
    settings.ALIPAY_APPID = "2021000000000000"
    settings.ALIPAY_PRIVATE_KEY_FILE = str(tmp_path / "app.pem")
    settings.ALIPAY_PUBLIC_KEY_FILE = str(tmp_path / "alipay.pem")
    settings.ALIPAY_SANDBOX = False
    return {"app": app, "alipay": platform}


def _alipay_notice(order, key, **changes) -> dict:
    data = {
        "app_id": "2021000000000000",
        "charset": "utf-8",
        "notify_id": "N-1",
        "notify_time": "2026-04-15 10:00:00",
        "notify_type": "trade_status_sync",
        "out_trade_no": order.reference,
        "total_amount": "30.00",
        "trade_no": "2026041522001400000000000001",
        "trade_status": "TRADE_SUCCESS",
    }
    message = "&".join(f"{k}={v}" for k, v in sorted(data.items()))
    data.update(sign=_rsa_sign(key, message), sign_type="RSA2")
    data.update(changes)
    return data


def test_an_alipay_notification_signed_by_alipay_credits_the_order(
    client, member, owed, alipay_keys
):
    order = open_order(member, [JAN, FEB], channel="alipay")

    response = client.post(
        "/pay/callback/alipay/", _alipay_notice(order, alipay_keys["alipay"])
    )

    assert response.status_code == 200
    assert response.content == b"success"
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.gateway_transaction_id == "2026041522001400000000000001"


def test_a_tampered_alipay_notification_is_refused(client, member, owed, alipay_keys):
    order = open_order(member, [JAN, FEB], channel="alipay")
    data = _alipay_notice(order, alipay_keys["alipay"], total_amount="0.01")

    response = client.post("/pay/callback/alipay/", data)

    assert response.status_code == 400
    assert response.content == b"fail"
    assert GatewayNotification.objects.get().outcome == "bad_signature"


def test_an_alipay_notification_signed_with_another_key_is_refused(
    client, member, owed, alipay_keys
):
    order = open_order(member, [JAN, FEB], channel="alipay")

    response = client.post(
        "/pay/callback/alipay/", _alipay_notice(order, alipay_keys["app"])
    )

    assert response.content == b"fail"
    order.refresh_from_db()
    assert order.status == "pending"


def test_the_alipay_page_url_is_signed_with_the_apps_key(member, owed, alipay_keys):
    order = open_order(member, [JAN, FEB], channel="alipay")

    url = payments.start_payment(order, return_url="https://liudong.example/dues/")

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        "https://openapi.alipay.com/gateway.do"
    )
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["method"] == "alipay.trade.wap.pay"
    biz = json.loads(query["biz_content"])
    assert (biz["out_trade_no"], biz["total_amount"]) == (order.reference, "30.00")
    signature = query.pop("sign")
    message = "&".join(f"{k}={v}" for k, v in sorted(query.items()))
    alipay_keys["app"].public_key().verify(
        base64.b64decode(signature),
        message.encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


class _AlipayReply:
    def __init__(self, key, response_type: str, data: dict):
        inner = json.dumps(data, separators=(",", ":"))
        self._raw = (
            f'{{"{response_type}":{inner},"sign":"{_rsa_sign(key, inner)}"}}'.encode()
        )

    def read(self):
        return self._raw


def test_alipay_reconciliation_settles_a_paid_order(
    member, owed, alipay_keys, monkeypatch
):
    import alipay

    order = open_order(member, [JAN, FEB], channel="alipay")
    reply = {
        "code": "10000",
        "msg": "Success",
        "out_trade_no": order.reference,
        "trade_no": "2026041522001400000000000002",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "30.00",
    }
    monkeypatch.setattr(
        alipay,
        "urlopen",
        lambda url, timeout=None: _AlipayReply(
            alipay_keys["alipay"], "alipay_trade_query_response", reply
        ),
    )

    counts = payments.reconcile_pending(
        now=order.created_at + datetime.timedelta(minutes=30)
    )

    assert counts["settled"] == 1
    order.refresh_from_db()
    assert order.status == "paid"


def test_an_alipay_reply_with_a_bad_signature_is_an_error(
    member, owed, alipay_keys, monkeypatch
):
    import alipay

    order = open_order(member, [JAN, FEB], channel="alipay")
    reply = {"code": "10000", "out_trade_no": order.reference, "total_amount": "30.00"}
    monkeypatch.setattr(
        alipay,
        "urlopen",
        lambda url, timeout=None: _AlipayReply(
            alipay_keys["app"], "alipay_trade_query_response", reply
        ),
    )

    counts = payments.reconcile_pending(
        now=order.created_at + datetime.timedelta(minutes=30)
    )

    assert counts["errors"] == 1
    order.refresh_from_db()
    assert order.status == "pending"


def test_an_alipay_refund_reports_the_money_moved(
    client, member, owed, alipay_keys, monkeypatch, secretary_of_a
):
    import alipay

    order = open_order(member, [JAN, FEB], channel="alipay")
    client.post("/pay/callback/alipay/", _alipay_notice(order, alipay_keys["alipay"]))
    reply = {"code": "10000", "fund_change": "Y", "trade_no": "2026041522001400000"}
    monkeypatch.setattr(
        alipay,
        "urlopen",
        lambda url, timeout=None: _AlipayReply(
            alipay_keys["alipay"], "alipay_trade_refund_response", reply
        ),
    )

    refund = payments.refund(
        actor=secretary_of_a, order=order, months=[JAN, FEB], reason="left the Party"
    )

    assert refund.amount == Decimal("30.00")
    assert refund.status == "succeeded"
    assert Refund.objects.get().gateway_refund_id == "2026041522001400000"


# The system check


def test_the_sandbox_needs_no_configuration(settings):
    from dues.checks import gateway_configured

    settings.LIUDONG_DUES_GATEWAY = "sandbox"

    assert gateway_configured() == []


def test_a_half_configured_wechat_gateway_fails_the_check(settings, tmp_path):
    from dues.checks import gateway_configured

    settings.LIUDONG_DUES_GATEWAY = "wechat"
    settings.WECHATPAY_MCHID = "1900000109"
    settings.WECHATPAY_APPID = ""
    settings.WECHATPAY_CERT_SERIAL_NO = "444F"
    settings.WECHATPAY_PRIVATE_KEY_FILE = str(tmp_path / "missing.pem")
    settings.WECHATPAY_APIV3_KEY = "short"

    ids = sorted(error.id for error in gateway_configured())

    assert ids == ["dues.E001", "dues.E002", "dues.E003"]


def test_a_configured_alipay_gateway_passes_the_check(settings, alipay_keys):
    from dues.checks import gateway_configured

    settings.LIUDONG_DUES_GATEWAY = "alipay"

    assert gateway_configured() == []
