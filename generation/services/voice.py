"""The author's voice guide: what every draft for them is told about their tone and words."""

from django.core.exceptions import PermissionDenied, ValidationError

from accounts import permissions as can
from accounts.models import User
from generation.models import VoiceGuide

FIELDS = ("tone", "use_words", "avoid_words", "structure")
MAX_CHARS = 4000


def voice_guide_update(*, author: User, by: User, **fields: str) -> VoiceGuide:
    """Authors keep their own guide; editors may keep anyone's."""
    if not can.can_edit_voice_guide(by, author):
        raise PermissionDenied("Only the author or an editor may change this voice guide.")
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise ValidationError(f"Unknown voice guide field(s): {', '.join(sorted(unknown))}.")
    guide, _ = VoiceGuide.objects.get_or_create(author=author)
    for name, value in fields.items():
        setattr(guide, name, str(value).strip()[:MAX_CHARS])
    guide.save()
    return guide


def voice_guide_for(author_id: int) -> VoiceGuide | None:
    return VoiceGuide.objects.filter(author_id=author_id).first()
