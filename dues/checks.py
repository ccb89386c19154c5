"""System check: the configured payment gateway has what it needs.

Registered when imported (``DuesConfig.ready`` imports this module), so
``manage.py check`` and every start fail loudly on a half-configured
gateway instead of at a member's first payment.
"""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, register

_REQUIRED = {
    "wechat": (
        "WECHATPAY_MCHID",
        "WECHATPAY_APPID",
        "WECHATPAY_CERT_SERIAL_NO",
        "WECHATPAY_PRIVATE_KEY_FILE",
        "WECHATPAY_APIV3_KEY",
    ),
    "alipay": ("ALIPAY_APPID", "ALIPAY_PRIVATE_KEY_FILE", "ALIPAY_PUBLIC_KEY_FILE"),
}
_FILES = {
    "WECHATPAY_PRIVATE_KEY_FILE",
    "ALIPAY_PRIVATE_KEY_FILE",
    "ALIPAY_PUBLIC_KEY_FILE",
}


@register("dues")
def gateway_configured(app_configs=None, **kwargs) -> list[Error]:
    """Every setting the chosen gateway reads is set; key files exist."""
    errors = []
    for name in _REQUIRED.get(settings.LIUDONG_DUES_GATEWAY, ()):
        value = getattr(settings, name, "")
        if not value:
            errors.append(
                Error(
                    f"{name} must be set for the {settings.LIUDONG_DUES_GATEWAY} "
                    "dues gateway",
                    id="dues.E001",
                )
            )
        elif name in _FILES and not Path(value).is_file():
            errors.append(Error(f"{name} names no readable file", id="dues.E002"))
    if settings.LIUDONG_DUES_GATEWAY == "wechat" and len(
        getattr(settings, "WECHATPAY_APIV3_KEY", "")
    ) not in (0, 32):
        errors.append(
            Error("WECHATPAY_APIV3_KEY must be 32 characters", id="dues.E003")
        )
    return errors
