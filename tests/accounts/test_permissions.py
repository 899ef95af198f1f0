"""The permission table: every rule of accounts/permissions.py, per role and channel.

Each row reads "this persona, this rule, this answer"; the services, views, selectors and the
navigation only ask these functions, so this file is the whole of who may do what.
"""

from types import SimpleNamespace

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from accounts import permissions as can
from posts.models import Post
from tests.posts.factories import make_post

pytestmark = pytest.mark.django_db

GENERAL, CLINICAL = can.GENERAL, can.CLINICAL
PERSONAS = ("author", "editor", "officer", "admin_user", "outsider")


def test_the_channels_are_the_posts_channels() -> None:
    assert list(can.CHANNELS) == list(Post.Channel.values)


# persona → expected answer, for the rules that take only a user.
USER_RULES = {
    can.can_draft_posts: {"author", "editor"},
    can.can_review_posts: {"editor"},
    can.can_approve_clinical_posts: {"officer"},
    can.can_read_posts: {"author", "editor", "officer"},
    can.can_see_unpublished_posts: {"editor", "officer"},
    can.can_publish_posts: {"editor"},
    can.can_handle_clinical_notes: {"officer"},
    can.can_view_audit_trail: {"officer"},
    can.can_manage_users: {"admin_user"},
}


@pytest.mark.parametrize("rule", USER_RULES, ids=lambda rule: rule.__name__)
@pytest.mark.parametrize("persona", PERSONAS)
def test_user_rules(request, rule, persona) -> None:  # noqa: ANN001
    user = request.getfixturevalue(persona)
    assert rule(user) is (persona in USER_RULES[rule])


# (rule, channel) → personas allowed.
CHANNEL_RULES = {
    (can.can_request_drafts, GENERAL): {"author", "editor"},
    (can.can_request_drafts, CLINICAL): {"officer"},
    (can.can_review_drafts, GENERAL): {"editor"},
    (can.can_review_drafts, CLINICAL): {"officer"},
    (can.can_manage_models, GENERAL): {"editor"},
    (can.can_manage_models, CLINICAL): {"officer"},
    (can.can_search_channel, GENERAL): {"author", "editor", "officer"},
    (can.can_search_channel, CLINICAL): {"editor", "officer"},
}


@pytest.mark.parametrize("rule_channel", CHANNEL_RULES, ids=lambda rc: f"{rc[0].__name__}-{rc[1]}")
@pytest.mark.parametrize("persona", PERSONAS)
def test_channel_rules(request, rule_channel, persona) -> None:  # noqa: ANN001
    rule, channel = rule_channel
    user = request.getfixturevalue(persona)
    assert rule(user, channel) is (persona in CHANNEL_RULES[rule_channel])


def test_nobody_signed_out_may_do_anything() -> None:
    anonymous = AnonymousUser()
    assert not any(rule(anonymous) for rule in USER_RULES)
    assert not any(rule(anonymous, channel) for rule, channel in CHANNEL_RULES)


def test_channels_where_lists_the_channels_in_their_own_order(editor, officer) -> None:
    assert can.channels_where(can.can_review_drafts, editor) == [GENERAL]
    assert can.channels_where(can.can_review_drafts, officer) == [CLINICAL]


def test_authors_edit_their_own_drafts_and_editors_any_post_in_draft_or_review(
    author, editor, outsider
) -> None:
    draft = make_post(author)
    in_review = make_post(author, status=Post.Status.IN_REVIEW)
    published = make_post(author, status=Post.Status.PUBLISHED)
    assert can.can_edit_post(author, draft) and not can.can_edit_post(author, in_review)
    assert can.can_edit_post(editor, draft) and can.can_edit_post(editor, in_review)
    assert not can.can_edit_post(editor, published)  # nobody edits a published post's text
    assert not can.can_edit_post(outsider, draft)


def test_approval_roles_never_let_anyone_approve_their_own_post(author, editor, officer) -> None:
    clinical = make_post(author, status=Post.Status.IN_REVIEW, channel=Post.Channel.CLINICAL)
    own = make_post(editor, status=Post.Status.IN_REVIEW)
    assert can.post_approval_role(editor, clinical) == "editor"
    assert can.post_approval_role(officer, clinical) == "clinical"
    assert can.post_approval_role(author, clinical) is None
    assert can.post_approval_role(editor, own) is None
    clinical.editor_approved_by = editor
    assert can.post_approval_role(editor, clinical) is None  # already given


def test_changes_and_back_to_draft(author, editor, officer) -> None:
    general = make_post(author, status=Post.Status.IN_REVIEW)
    clinical = make_post(author, status=Post.Status.IN_REVIEW, channel=Post.Channel.CLINICAL)
    assert can.can_request_post_changes(editor, general)
    assert can.can_request_post_changes(officer, clinical)
    assert not can.can_request_post_changes(officer, general)
    assert can.can_send_post_back_to_draft(author, general, in_review=True)  # withdrawing
    assert not can.can_send_post_back_to_draft(author, general, in_review=False)
    assert can.can_send_post_back_to_draft(editor, general, in_review=False)


def test_a_run_is_overseen_by_whoever_asked_and_the_channels_reviewers(
    author, editor, officer, outsider
) -> None:
    general = SimpleNamespace(requested_by_id=author.id, channel=GENERAL)
    clinical = SimpleNamespace(requested_by_id=officer.id, channel=CLINICAL)
    assert can.can_oversee_run(author, general) and can.can_oversee_run(editor, general)
    assert not can.can_oversee_run(officer, general) and not can.can_oversee_run(outsider, general)
    assert can.can_oversee_run(officer, clinical) and not can.can_oversee_run(editor, clinical)
    assert can.can_take_proposal(author, general) and not can.can_take_proposal(editor, general)


def test_voice_guides_are_their_authors_and_the_editors(author, editor, outsider) -> None:
    assert can.can_edit_voice_guide(author, author)
    assert can.can_edit_voice_guide(editor, author)
    assert not can.can_edit_voice_guide(outsider, author)


def test_the_uploader_never_decides_their_own_note(officer, editor) -> None:
    from accounts.roles import Role
    from tests.accounts.factories import UserFactory

    other = UserFactory(roles=[Role.COMPLIANCE_OFFICER])
    note = SimpleNamespace(uploaded_by_id=officer.id)
    assert not can.can_decide_note(officer, note)
    assert can.can_decide_note(other, note)
    assert not can.can_decide_note(editor, note)


def test_the_command_line_manages_general_models_but_names_an_officer_for_clinical(
    editor, officer
) -> None:
    can.require_manage_models(None, GENERAL)
    with pytest.raises(PermissionDenied, match="named compliance officer"):
        can.require_manage_models(None, CLINICAL)
    can.require_manage_models(officer, CLINICAL)
    with pytest.raises(PermissionDenied, match="Only compliance officers"):
        can.require_manage_models(editor, CLINICAL)
