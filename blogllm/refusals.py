"""The sentence a user sees when a service refuses: one wording for every page.

Services refuse with ValidationError (the request breaks a rule) or PermissionDenied (the user
may not do this), each carrying a sentence meant for the user. A view catches the refusal around
its one service call and shows `refusal_text(exc)` through messages.error, form.add_error or its
own template, so a refusal reads the same on every page:

    try:
        post_publish(post=post, by=request.user)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, refusal_text(exc))
    else:
        messages.success(request, "Published.")
"""

from django.core.exceptions import PermissionDenied, ValidationError

# A bare `raise PermissionDenied` carries no sentence; the user still gets one.
NOT_ALLOWED = "You may not do this."


def refusal_text(exc: ValidationError | PermissionDenied) -> str:
    """All of a ValidationError's messages (field errors included) in one line, or the
    PermissionDenied's own sentence."""
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc) or NOT_ALLOWED
