"""The guard's blocked words: editors (general) and compliance officers (clinical) keep one
list for every draft and rewrite; each change is audited."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from accounts import permissions as can
from accounts.models import User
from compliance.audit import Action, audit_record
from generation.models import BlockedWord

MAX_WORD_CHARS = 100


def _require_reviewer(by: User) -> None:
    if not (can.can_review_posts(by) or can.can_approve_clinical_posts(by)):
        raise PermissionDenied("Only editors and compliance officers change the blocked words.")


def blocked_words() -> list[str]:
    return list(BlockedWord.objects.values_list("word", flat=True))


@transaction.atomic
def blocked_word_add(*, word: str, by: User) -> BlockedWord:
    _require_reviewer(by)
    word = " ".join(word.split()).lower()
    if not word:
        raise ValidationError("Type a word or a short phrase.")
    if len(word) > MAX_WORD_CHARS:
        raise ValidationError(f"A blocked word is at most {MAX_WORD_CHARS} characters.")
    if BlockedWord.objects.filter(word=word).exists():
        raise ValidationError(f"“{word}” is blocked already.")
    blocked = BlockedWord.objects.create(word=word, added_by=by)
    audit_record(action=Action.GUARD_WORD_ADDED, actor=by, obj=blocked, detail={"word": word})
    return blocked


@transaction.atomic
def blocked_word_remove(*, word_id: int, by: User) -> None:
    _require_reviewer(by)
    blocked = BlockedWord.objects.filter(id=word_id).first()
    if blocked is None:
        return
    audit_record(
        action=Action.GUARD_WORD_REMOVED, actor=by, obj=blocked, detail={"word": blocked.word}
    )
    blocked.delete()
