"""The printable letter: its content, masking, verification code and access."""

import datetime
import io

import pytest
from django.utils import timezone, translation
from pypdf import PdfReader

from members.models import AuditEvent, Ethnicity
from organizations import letters, services
from organizations.models import Transfer
from organizations.scope import OutOfScope
from tests import factories

DAY = datetime.timedelta(days=1)


def today():
    return timezone.localdate()


def text_of(pdf: bytes) -> str:
    # The CID font keeps the Chinese text extractable.
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture(autouse=True)
def _english():
    # The letter prints in the active language; these tests read its
    # English source text, whatever the catalogues translate.
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def letter(member, branch_b, city_committee, secretary_of_a):
    city_committee.address, city_committee.phone = (
        "东城区安定门东大街1号",
        "010-64000000",
    )
    city_committee.save()
    member.ethnicity = Ethnicity.objects.get(name="回族")
    member.save()
    draft = services.transfer_create(
        actor=secretary_of_a,
        member=member,
        to_organization=branch_b,
        dues_paid_through=services.dues_required_through(today()),
        validity_days=45,
    )
    return services.transfer_issue(actor=secretary_of_a, transfer=draft)


def test_the_letter_carries_every_field_of_a_paper_letter(letter, member):
    text = text_of(letters.letter_render(letter, full_id=True))

    expected = [
        letter.number,
        "张三",
        "Male",
        str(letter.age),
        "回族",
        "Full member",
        member.id_number,
        "第一支部",
        "第二支部",
        f"{letter.dues_paid_through:%Y-%m}",
        f"45 days, until {letter.valid_until.isoformat()}",
        letter.issued_on.isoformat(),
        "东城区委",
        "东城区安定门东大街1号",
        "010-64000000",
        letters.format_code(letters.letter_code(letter)),
    ]
    assert [s for s in expected if s not in text] == []


def test_the_receipt_part_names_the_letter_and_the_sender(letter):
    text = text_of(letters.letter_render(letter, full_id=False))
    receipt = text[text.index("Receipt") :]

    assert letter.number in receipt
    assert "张三" in receipt
    assert "第一支部" in receipt


def test_a_masked_letter_shows_only_the_mask(letter, member):
    text = text_of(letters.letter_render(letter, full_id=False))

    assert member.masked_id_number in text
    assert member.id_number not in text


def test_a_probationary_member_is_printed_as_such(branch_a, branch_b, secretary_of_a):
    newcomer = factories.make_member(branch_a, status="probationary")
    draft = services.transfer_create(
        actor=secretary_of_a,
        member=newcomer,
        to_organization=branch_b,
        dues_paid_through=services.dues_required_through(today()),
    )

    text = text_of(letters.letter_render(draft, full_id=False))

    assert "Probationary member" in text


def test_a_letter_to_outside_the_system_names_the_recipient(member, secretary_of_a):
    draft = services.transfer_create(
        actor=secretary_of_a,
        member=member,
        to_external="广东省深圳市南山区某街道党工委",
        dues_paid_through=services.dues_required_through(today()),
    )

    text = text_of(letters.letter_render(draft, full_id=False))

    assert "广东省深圳市南山区某街道党工委" in text


def test_a_letter_no_longer_valid_says_so_across_its_head(letter, secretary_of_a):
    withdrawn = services.transfer_withdraw(actor=secretary_of_a, transfer=letter)

    text = text_of(letters.letter_render(withdrawn, full_id=False))

    assert text.startswith("Not a valid letter: Withdrawn")


def test_a_valid_letter_carries_no_such_warning(letter):
    text = text_of(letters.letter_render(letter, full_id=False))

    assert "Not a valid letter" not in text


def test_markup_in_a_name_is_printed_as_text(letter):
    Transfer.objects.filter(pk=letter.pk).update(note="", name="<b>张&三</b>")
    letter.refresh_from_db()

    text = text_of(letters.letter_render(letter, full_id=False))

    assert "<b>张&三</b>" in text


# Verification code


def test_the_code_is_ten_base32_characters_and_stable(letter):
    code = letters.letter_code(letter)

    assert len(code) == 10
    assert set(code) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert letters.letter_code(Transfer.objects.get(pk=letter.pk)) == code


def test_two_letters_have_different_codes(
    letter, member_of_b, branch_a, secretary_of_b
):
    other = services.transfer_create(
        actor=secretary_of_b,
        member=member_of_b,
        to_organization=branch_a,
        dues_paid_through=services.dues_required_through(today()),
    )

    assert letters.letter_code(other) != letters.letter_code(letter)


def test_the_code_verifies_as_typed_off_paper(letter):
    printed = letters.format_code(letters.letter_code(letter))
    typed = printed.lower().replace("O", "0").replace("-", " - ")

    assert letters.letter_verify(number=letter.number, code=typed) == letter


def test_a_wrong_code_does_not_verify(letter):
    code = letters.letter_code(letter)
    wrong = ("B" if code[0] == "A" else "A") + code[1:]

    assert letters.letter_verify(number=letter.number, code=wrong) is None
    assert letters.letter_verify(number="2000-0000001", code=code) is None


def test_a_code_made_with_another_key_does_not_verify(letter, settings):
    code = letters.letter_code(letter)

    settings.SECRET_KEY = "another-secret-key-" * 4

    assert not letters.letter_code_matches(letter, code)


def test_a_code_printed_before_a_key_rotation_still_verifies(letter, settings):
    code = letters.letter_code(letter)
    old_key = settings.SECRET_KEY

    settings.SECRET_KEY = "the-new-secret-key-" * 4
    settings.SECRET_KEY_FALLBACKS = [old_key]

    assert letters.letter_code_matches(letter, code)


# Downloads


def test_a_secretary_downloads_the_letter_with_the_full_id_and_it_is_audited(
    letter, member, secretary_of_b
):
    download = letters.letter_download(actor=secretary_of_b, transfer=letter)

    assert download.filename == f"letter-{letter.number}.pdf"
    assert download.masked is False
    assert member.id_number in text_of(download.content)
    event = AuditEvent.objects.get(action="transfer.letter")
    assert (event.actor, event.member, event.details) == (
        secretary_of_b,
        member,
        {"transfer_id": letter.pk, "masked": False},
    )


def test_a_provincial_viewer_gets_the_letter_masked(letter, member, provincial_viewer):
    download = letters.letter_download(actor=provincial_viewer, transfer=letter)

    text = text_of(download.content)
    assert download.masked is True
    assert member.masked_id_number in text
    assert member.id_number not in text
    assert AuditEvent.objects.get(action="transfer.letter").details["masked"] is True


@pytest.mark.parametrize("who", ["member_user", "outsider", "provincial_viewer_other"])
def test_only_the_two_sides_download_the_letter(request, letter, who):
    actor = request.getfixturevalue(who)

    with pytest.raises(OutOfScope):
        letters.letter_download(actor=actor, transfer=letter)

    assert not AuditEvent.objects.filter(action="transfer.letter").exists()


def test_the_response_is_a_download_no_cache_keeps(letter, secretary_of_a):
    download = letters.letter_download(actor=secretary_of_a, transfer=letter)

    response = letters.letter_response(download)

    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="letter-{letter.number}.pdf"'
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store, private"
