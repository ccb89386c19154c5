"""Settings: production refuses to start without its secrets and passes
Django's deployment checks with them; development runs without Redis.

Settings are read once per process, so each case runs in a fresh one.
"""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone

from config import settings as base_settings
from members import crypto

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str, **variables: str) -> subprocess.CompletedProcess:
    """Run Python in the project with only the given Liudong settings set."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "LIUDONG_"))
    }
    env.update(variables)
    return subprocess.run(  # noqa: S603 (the test's own interpreter)
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _generated_keys(*args: str) -> dict[str, str]:
    out = io.StringIO()
    call_command("generate_keys", *args, stdout=out)
    return dict(line.split("=", 1) for line in out.getvalue().splitlines())


@pytest.fixture(scope="module")
def merchant_key(tmp_path_factory) -> Path:
    """A WeChat Pay merchant key file, as an operator would install one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("wechatpay") / "apiclient_key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.fixture(scope="module")
def production(merchant_key) -> dict[str, str]:
    return {
        "DJANGO_ENV": "production",
        "DJANGO_ALLOWED_HOSTS": "liudong.example.org",
        # Production refuses the sandbox, so a real gateway is configured.
        "LIUDONG_DUES_GATEWAY": "wechat",
        "WECHATPAY_MCHID": "1900000109",
        "WECHATPAY_APPID": "wxd678efh567hg6787",
        "WECHATPAY_CERT_SERIAL_NO": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "WECHATPAY_PRIVATE_KEY_FILE": str(merchant_key),
        "WECHATPAY_APIV3_KEY": "0123456789abcdef0123456789abcdef",
        **_generated_keys(),
    }


def test_production_with_a_half_configured_gateway_fails_the_checks(production):
    result = _run("manage.py", "check", **{**production, "WECHATPAY_APPID": ""})

    assert result.returncode == 1
    assert "WECHATPAY_APPID must be set for the wechat dues gateway" in result.stderr


def _refusal(production, **changes) -> str:
    variables = {**production, **changes}
    result = _run(
        "manage.py",
        "check",
        **{name: value for name, value in variables.items() if value is not None},
    )
    assert result.returncode == 1
    return result.stderr.splitlines()[-1]


def test_production_with_generated_keys_passes_the_deployment_checks(production):
    result = _run(
        "manage.py", "check", "--deploy", "--fail-level=WARNING", **production
    )

    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "System check identified no issues (0 silenced).\n",
        "",
    )


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        (
            "DJANGO_SECRET_KEY",
            "DJANGO_SECRET_KEY must be set to a random value of 50+ characters",
        ),
        ("LIUDONG_ENCRYPTION_KEYS", "LIUDONG_ENCRYPTION_KEYS must be set"),
        ("LIUDONG_BLIND_INDEX_KEY", "LIUDONG_BLIND_INDEX_KEY must be set"),
        ("DJANGO_ALLOWED_HOSTS", "DJANGO_ALLOWED_HOSTS must be set"),
        ("LIUDONG_DUES_GATEWAY", "the sandbox dues gateway is not for production"),
    ],
)
def test_production_refuses_to_start_without(production, variable, message):
    last_line = _refusal(production, **{variable: None})

    assert last_line == f"django.core.exceptions.ImproperlyConfigured: {message}"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "DJANGO_SECRET_KEY",
            base_settings._DEV_SECRET_KEY,
            "DJANGO_SECRET_KEY must be set to a random value of 50+ characters",
        ),
        (
            "LIUDONG_ENCRYPTION_KEYS",
            base_settings._DEV_ENCRYPTION_KEYS,
            "LIUDONG_ENCRYPTION_KEYS must be set",
        ),
        (
            "LIUDONG_BLIND_INDEX_KEY",
            base_settings._DEV_BLIND_INDEX_KEY,
            "LIUDONG_BLIND_INDEX_KEY must be set",
        ),
    ],
)
def test_production_refuses_the_public_development_keys(
    production, variable, value, message
):
    last_line = _refusal(production, **{variable: value})

    assert last_line == f"django.core.exceptions.ImproperlyConfigured: {message}"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "DJANGO_SECRET_KEY",
            "short-but-not-the-development-key",
            "DJANGO_SECRET_KEY must be set to a random value of 50+ characters",
        ),
        ("LIUDONG_ENCRYPTION_KEYS", "", "LIUDONG_ENCRYPTION_KEYS must be set"),
        ("DJANGO_DEBUG", "on", "DJANGO_DEBUG must be off in production"),
        (
            "LIUDONG_NO_REDIS",
            "1",
            "LIUDONG_CELERY_EAGER and LIUDONG_NO_REDIS are for demos, not production",
        ),
        (
            "LIUDONG_CELERY_EAGER",
            "1",
            "LIUDONG_CELERY_EAGER and LIUDONG_NO_REDIS are for demos, not production",
        ),
        (
            "LIUDONG_DUES_GATEWAY",
            "sandbox",
            "the sandbox dues gateway is not for production",
        ),
    ],
)
def test_production_refuses_unsafe_values(production, variable, value, message):
    last_line = _refusal(production, **{variable: value})

    assert last_line == f"django.core.exceptions.ImproperlyConfigured: {message}"


def test_generated_keys_seal_and_find_values():
    keys = _generated_keys("--key-id", "k2031")

    with override_settings(
        LIUDONG_ENCRYPTION_KEYS=keys["LIUDONG_ENCRYPTION_KEYS"],
        LIUDONG_BLIND_INDEX_KEY=keys["LIUDONG_BLIND_INDEX_KEY"],
    ):
        sealed = crypto.encrypt("11010519491231002X", purpose="id_number")
        opened = crypto.decrypt(sealed, purpose="id_number")
        index = crypto.blind_index("11010519491231002X")

    assert crypto.key_id_of(sealed) == "k2031"
    assert opened == "11010519491231002X"
    assert len(index) == 32


def test_generated_encryption_key_is_named_after_today_by_default():
    keys = _generated_keys()

    key_id = keys["LIUDONG_ENCRYPTION_KEYS"].partition(":")[0]
    assert key_id == f"k{timezone.localdate():%Y%m%d}"


def test_without_redis_the_cache_is_per_process_and_tasks_run_in_process():
    code = (
        "from config import settings as s; "
        "print(s.CACHES['default']['BACKEND'], s.CELERY_TASK_ALWAYS_EAGER)"
    )

    result = _run("-c", code, LIUDONG_NO_REDIS="1")

    assert result.stdout == "django.core.cache.backends.locmem.LocMemCache True\n"


def test_serving_with_in_process_tasks_logs_one_warning():
    result = _run("-c", "import config.wsgi", LIUDONG_NO_REDIS="1")

    assert [line.partition(" level=")[2] for line in result.stderr.splitlines()] == [
        "WARNING logger=config.wsgi msg=celery tasks run in-process "
        "(LIUDONG_CELERY_EAGER): fine for a demo, wrong for anything else"
    ]


def test_django_log_records_are_written_once_in_the_key_value_format():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('django.request').error('Service Unavailable: /x')"
    )

    result = _run("-c", code, DJANGO_SETTINGS_MODULE="config.settings")

    assert [line.partition(" level=")[2] for line in result.stderr.splitlines()] == [
        "ERROR logger=django.request msg=Service Unavailable: /x"
    ]


def test_serving_with_a_worker_logs_no_warning():
    result = _run("-c", "import config.wsgi")

    assert result.stderr == ""


def test_readme_lists_every_environment_variable_the_settings_read():
    source = (ROOT / "config" / "settings.py").read_text()
    readme = (ROOT / "README.md").read_text()

    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', source))
    listed = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", readme, flags=re.MULTILINE))

    assert sorted(listed) == sorted(read)
