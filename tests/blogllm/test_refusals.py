"""A service's refusal reads as one sentence for the user, whichever exception carries it."""

from django.core.exceptions import PermissionDenied, ValidationError

from blogllm.refusals import NOT_ALLOWED, refusal_text


def test_a_validation_error_reads_as_its_message() -> None:
    assert refusal_text(ValidationError("Only approved posts can be published.")) == (
        "Only approved posts can be published."
    )


def test_a_validation_error_with_several_messages_joins_them_in_one_line() -> None:
    exc = ValidationError(["The title is empty.", "The body is empty."])
    assert refusal_text(exc) == "The title is empty. The body is empty."


def test_field_errors_are_shown_too() -> None:
    # A model's full_clean() raises a dict of field errors; the user still sees every sentence.
    exc = ValidationError({"slug": ["This slug is taken."], "title": ["The title is empty."]})
    assert refusal_text(exc) == "This slug is taken. The title is empty."


def test_a_message_with_params_is_formatted() -> None:
    exc = ValidationError("Run #%(id)s is not running.", params={"id": 7})
    assert refusal_text(exc) == "Run #7 is not running."


def test_permission_denied_reads_as_its_sentence() -> None:
    exc = PermissionDenied("Only an editor can publish posts.")
    assert refusal_text(exc) == "Only an editor can publish posts."


def test_a_bare_permission_denied_still_says_something() -> None:
    assert refusal_text(PermissionDenied()) == NOT_ALLOWED
