"""Payment gateways behind one interface.

``get_gateway(channel)`` returns the adapter for an online channel:
``sandbox`` (signed callbacks and a simulated payment page, for demo and
tests), ``wechat`` (WeChat Pay API v3 through ``wechatpayv3``) and
``alipay`` (through ``python-alipay-sdk``). Cash and bank payments have no
gateway: a secretary records them.
"""

from django.conf import settings

from dues.gateways.base import (
    BadSignature,
    Gateway,
    GatewayError,
    Notification,
    QueryResult,
    RefundResult,
)

ONLINE_CHANNELS = ("sandbox", "wechat", "alipay")


def available(channel: str) -> bool:
    """Whether members may pay through ``channel`` here."""
    # The sandbox's secret has a public default: in production a callback
    # signed with it would credit dues nobody paid.
    return channel in ONLINE_CHANNELS and not (
        channel == "sandbox" and settings.PRODUCTION
    )


def get_gateway(channel: str) -> Gateway:
    """The adapter for ``channel``; ValueError for a channel without one."""
    if not available(channel):
        raise ValueError(f"no gateway for channel {channel!r}")
    # Imported here: each adapter pulls in its SDK, and a deployment uses
    # one of them.
    if channel == "sandbox":
        from dues.gateways.sandbox import SandboxGateway

        return SandboxGateway()
    if channel == "wechat":
        from dues.gateways.wechat import WechatGateway

        return WechatGateway()
    if channel == "alipay":
        from dues.gateways.alipay import AlipayGateway

        return AlipayGateway()
    raise ValueError(f"no gateway for channel {channel!r}")


__all__ = [
    "ONLINE_CHANNELS",
    "BadSignature",
    "Gateway",
    "GatewayError",
    "Notification",
    "QueryResult",
    "RefundResult",
    "available",
    "get_gateway",
]
