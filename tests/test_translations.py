"""The Simplified Chinese catalogue is complete, safe to format, and served."""

import re
from collections import Counter

import polib
import pytest
from django.conf import settings
from django.utils import translation

CATALOGUE = settings.BASE_DIR / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"

# printf-style conversions as Python's % operator reads them (%% is a literal
# percent sign), and str.format fields.
PERCENT = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.\d+)?[a-zA-Z%]")
BRACES = re.compile(r"(?<!\{)\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def _placeholders(text: str) -> tuple[Counter, list[str], Counter]:
    """Return the named and positional % placeholders and the {} fields."""
    named: Counter = Counter()
    positional: list[str] = []
    for match in PERCENT.finditer(text):
        if match.group() == "%%":
            continue
        if match.group("name") is None:
            positional.append(match.group()[-1])
        else:
            named[match.group()] += 1
    fields = Counter(m.group("name") for m in BRACES.finditer(text))
    return named, positional, fields


def _translations(entry: polib.POEntry) -> list[tuple[str, str]]:
    """Pair each msgstr with the msgid whose placeholders it must keep."""
    if not entry.msgid_plural:
        return [(entry.msgid, entry.msgstr)]
    # Chinese has one plural form: msgstr[0] serves every count, so it takes
    # the plural msgid's placeholders.
    return [(entry.msgid_plural, text) for text in entry.msgstr_plural.values()]


@pytest.fixture(autouse=True)
def _english_unless_asked():
    # Overrides the suite-wide fixture of tests/conftest.py that makes other
    # tests read English: here the product's own default language is tested.
    yield


@pytest.fixture(scope="module")
def catalogue():
    return polib.pofile(str(CATALOGUE))


def test_the_catalogue_declares_simplified_chinese_with_one_plural_form(catalogue):
    metadata = catalogue.metadata

    assert metadata["Language"] == "zh_Hans"
    assert metadata["Content-Type"] == "text/plain; charset=UTF-8"
    assert metadata["Plural-Forms"] == "nplurals=1; plural=0;"
    assert not catalogue.metadata_is_fuzzy


def test_the_catalogue_has_no_untranslated_entry(catalogue):
    untranslated = [entry.msgid for entry in catalogue.untranslated_entries()]

    assert untranslated == []


def test_the_catalogue_has_no_fuzzy_entry(catalogue):
    fuzzy = [entry.msgid for entry in catalogue.fuzzy_entries()]

    assert fuzzy == []


def test_the_catalogue_has_no_obsolete_entry(catalogue):
    obsolete = [entry.msgid for entry in catalogue.obsolete_entries()]

    assert obsolete == []


def test_the_placeholder_reader_tells_named_positional_and_brace_fields_apart():
    text = "%(count)d of %(total)s, %s%% done, {name} and {{literal}}"

    named, positional, fields = _placeholders(text)

    assert named == Counter({"%(count)d": 1, "%(total)s": 1})
    assert positional == ["s"]
    assert fields == Counter({"name": 1})


def test_every_translation_keeps_the_placeholders_of_its_msgid(catalogue):
    mismatches = []

    for entry in catalogue.translated_entries():
        for msgid, msgstr in _translations(entry):
            if _placeholders(msgid) != _placeholders(msgstr):
                mismatches.append((msgid, msgstr))

    assert mismatches == []


def test_every_translation_formats_with_the_arguments_of_its_msgid(catalogue):
    failures = []

    for entry in catalogue.translated_entries():
        for msgid, msgstr in _translations(entry):
            named, positional, _fields = _placeholders(msgid)
            if not named and not positional:
                continue
            arguments = {m[2:-2]: 1 for m in named} or tuple(1 for _ in positional)
            try:
                msgstr % arguments
            except (KeyError, TypeError, ValueError) as error:
                failures.append((msgid, repr(error)))

    assert failures == []


@pytest.mark.parametrize(
    ("context", "msgid", "expected"),
    [
        # Installed apps translate these generic words their own way
        # (django-celery-beat: Name -> 任务名); ours must win.
        (None, "Name", "姓名"),
        (None, "Status", "状态"),
        (None, "Organization", "党组织"),
        (None, "Home", "首页"),
        (None, "Note", "备注"),
        (None, "Code", "代码"),
        # Homonyms kept apart by context.
        (None, "name", "名称"),
        ("person", "name", "姓名"),
        (None, "Returned", "已返回"),
        ("transfer state", "Returned", "已退回"),
    ],
)
def test_generic_words_read_as_the_project_translates_them(context, msgid, expected):
    with translation.override("zh-hans"):
        if context is None:
            text = translation.gettext(msgid)
        else:
            text = translation.pgettext(context, msgid)

    assert text == expected


def test_the_product_speaks_simplified_chinese_first_and_english_second():
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert [code for code, _name in settings.LANGUAGES] == ["zh-hans", "en"]


@pytest.mark.django_db
def test_the_login_page_speaks_chinese_by_default(client):
    response = client.get("/accounts/login/")

    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.text
    assert "<h1>登录</h1>" in response.text
    assert "用户名或手机号码" in response.text


@pytest.mark.django_db
def test_the_login_page_speaks_english_to_a_browser_asking_for_it(client):
    response = client.get("/accounts/login/", headers={"accept-language": "en"})

    assert response.status_code == 200
    assert '<html lang="en">' in response.text
    assert "<h1>Sign In</h1>" in response.text
    assert "登录" not in response.text


@pytest.mark.django_db
def test_the_language_cookie_switches_the_page_to_english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    response = client.get("/accounts/login/", headers={"accept-language": "zh-CN"})

    assert '<html lang="en">' in response.text
    assert "<h1>Sign In</h1>" in response.text


@pytest.mark.django_db
def test_the_portal_home_speaks_chinese_to_a_member(client, member):
    client.force_login(member.user)

    response = client.get("/")

    assert response.status_code == 200
    assert "<title>我的党员信息 · 流动党员服务</title>" in response.text
    assert "我的党组织" in response.text
    assert "正式党员" in response.text


@pytest.mark.django_db
def test_the_portal_home_speaks_english_after_the_member_switches(client, member):
    client.force_login(member.user)
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})

    response = client.get("/")

    assert "<title>My record · Mobile Party member services</title>" in response.text
    assert "My organisation" in response.text
    assert "我的党组织" not in response.text


@pytest.mark.django_db
def test_the_admin_speaks_chinese_to_a_secretary(client, secretary_of_a, member):
    client.force_login(secretary_of_a)

    response = client.get("/admin/members/member/")

    assert response.status_code == 200
    assert "| 流动党员管理平台</title>" in response.text
    assert "身份证号码" in response.text
    assert "张三" in response.text
