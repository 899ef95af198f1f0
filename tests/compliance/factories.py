"""Clinical notes for tests, made through the same services the product uses."""

from allauth.mfa.models import Authenticator

from accounts.models import User
from accounts.roles import Role
from compliance.models import ClinicalNote
from compliance.services import note_approve, note_create, note_reject
from tests.accounts.factories import UserFactory

NOTE_TEXT = (
    "Patient John Smith (MRN 48213977) was seen on 03/14/2023 at Mercy General Hospital.\n"
    "He reports chest tightness when climbing stairs and sleeps poorly since the move.\n"
    "Call his daughter Mary Smith at 555-201-3344 before the follow-up visit.\n"
    "John Smith agreed to keep a symptom diary until the next appointment."
)


def make_officer(*, totp: bool = True) -> User:
    """A compliance officer; with a TOTP device, so the MFA middleware lets them through."""
    user = UserFactory(roles=[Role.COMPLIANCE_OFFICER])
    if totp:
        with_totp(user)
    return user


def with_totp(user: User) -> User:
    Authenticator.objects.get_or_create(
        user=user, type=Authenticator.Type.TOTP, defaults={"data": {"secret": "x"}}
    )
    return user


def make_note(uploader: User, *, text: str = NOTE_TEXT, **fields: object) -> ClinicalNote:
    return note_create(text=text, by=uploader, **fields)


def decided(note: ClinicalNote, *, by: User, status: str) -> ClinicalNote:
    if status == ClinicalNote.Status.APPROVED:
        return note_approve(note=note, by=by)
    if status == ClinicalNote.Status.REJECTED:
        return note_reject(note=note, by=by, reason="Too identifying to keep.")
    return note
