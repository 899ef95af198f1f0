"""Promotion, rollback and archive: one active version per channel, who may decide, the
clinical memorisation gate, and the audit trail."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from compliance.models import AuditEvent
from tests.training.factories import ModelVersionFactory
from training.models import ModelVersion, Promotion
from training.services.registry import (
    model_version_archive,
    model_version_promote,
    model_version_rollback,
    promotion_blockers,
)

pytestmark = pytest.mark.django_db


def statuses(*versions: ModelVersion) -> list[str]:
    for version in versions:
        version.refresh_from_db()
    return [v.status for v in versions]


def test_promoting_makes_the_version_the_one_active_and_the_previous_a_candidate(editor):
    v1, v2 = ModelVersionFactory(), ModelVersionFactory()
    model_version_promote(version=v1, by=editor)

    model_version_promote(version=v2, by=editor, reason="Lower perplexity")

    assert statuses(v1, v2) == ["candidate", "active"]
    promotion = Promotion.objects.first()
    assert (promotion.version, promotion.previous, promotion.by) == (v2, v1, editor)
    event = AuditEvent.objects.filter(action="model.promoted").order_by("seq").last()
    assert event.detail == {"version": v2.label, "previous": v1.label}


def test_the_database_refuses_two_active_versions_in_one_channel():
    ModelVersionFactory(status=ModelVersion.Status.ACTIVE)

    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersionFactory(status=ModelVersion.Status.ACTIVE)


def test_each_channel_has_its_own_active_version(editor, officer):
    general = ModelVersionFactory()
    clinical = ModelVersionFactory(channel="clinical", memorisation_passed=True)

    model_version_promote(version=general, by=editor)
    model_version_promote(version=clinical, by=officer)

    assert statuses(general, clinical) == ["active", "active"]


def test_rolling_back_restores_the_previously_active_version_step_by_step(editor):
    v1, v2, v3 = ModelVersionFactory(), ModelVersionFactory(), ModelVersionFactory()
    for version in (v1, v2, v3):
        model_version_promote(version=version, by=editor)

    assert model_version_rollback(channel="general", by=editor, reason="rambles") == v2
    assert statuses(v1, v2, v3) == ["candidate", "active", "candidate"]
    # A second rollback goes one further back: v2 was promoted over v1.
    assert model_version_rollback(channel="general", by=editor) == v1
    assert statuses(v1, v2, v3) == ["active", "candidate", "candidate"]
    assert AuditEvent.objects.filter(action="model.rolled_back").count() == 2


def test_rollback_needs_an_earlier_version(editor):
    v1 = ModelVersionFactory()
    with pytest.raises(ValidationError, match="no active version"):
        model_version_rollback(channel="general", by=editor)
    model_version_promote(version=v1, by=editor)

    with pytest.raises(ValidationError, match="first active version"):
        model_version_rollback(channel="general", by=editor)


def test_rollback_will_not_revive_an_archived_version(editor):
    v1, v2 = ModelVersionFactory(), ModelVersionFactory()
    model_version_promote(version=v1, by=editor)
    model_version_promote(version=v2, by=editor)
    model_version_archive(version=v1, by=editor)

    with pytest.raises(ValidationError, match="archived"):
        model_version_rollback(channel="general", by=editor)
    assert statuses(v1, v2) == ["archived", "active"]
    archived = AuditEvent.objects.get(action="model.archived")
    assert (archived.actor_id, archived.detail) == (editor.id, {"version": v1.label})


def test_the_active_version_cannot_be_archived(editor):
    version = ModelVersionFactory()
    model_version_promote(version=version, by=editor)

    with pytest.raises(ValidationError, match="before archiving"):
        model_version_archive(version=version, by=editor)


def test_an_archived_version_is_never_promoted_again(editor):
    version = ModelVersionFactory()
    model_version_archive(version=version, by=editor)

    with pytest.raises(ValidationError, match="archived"):
        model_version_promote(version=version, by=editor)

    assert statuses(version) == ["archived"]


def test_editors_manage_general_models_and_only_officers_clinical_ones(editor, officer, author):
    general = ModelVersionFactory()
    clinical = ModelVersionFactory(channel="clinical", memorisation_passed=True)

    with pytest.raises(PermissionDenied, match="compliance officers"):
        model_version_promote(version=clinical, by=editor)
    with pytest.raises(PermissionDenied, match="editors"):
        model_version_promote(version=general, by=officer)
    with pytest.raises(PermissionDenied):
        model_version_promote(version=general, by=author)
    # At the command line the operator must still name the officer for a clinical version.
    with pytest.raises(PermissionDenied, match="named compliance officer"):
        model_version_promote(version=clinical, by=None)
    model_version_promote(version=general, by=None)
    assert statuses(general, clinical) == ["active", "candidate"]


def test_a_clinical_version_needs_a_passed_memorisation_test(officer):
    untested = ModelVersionFactory(channel="clinical")
    failed = ModelVersionFactory(channel="clinical", memorisation_passed=False)

    assert promotion_blockers(untested) == [
        "A clinical version needs a passed memorisation test first."
    ]
    with pytest.raises(ValidationError, match="memorisation test"):
        model_version_promote(version=untested, by=officer)
    with pytest.raises(ValidationError, match="reproduces training text"):
        model_version_promote(version=failed, by=officer)
    assert statuses(untested, failed) == ["candidate", "candidate"]
    assert not AuditEvent.objects.filter(action="model.promoted").exists()


@pytest.mark.django_db
def test_an_archived_version_is_not_evaluated_again_by_any_door(editor) -> None:  # noqa: ANN001
    from training.services.registry import model_version_evaluate, model_version_evaluate_queue

    version = ModelVersionFactory(status=ModelVersion.Status.ARCHIVED)
    with pytest.raises(ValidationError, match="archived"):
        model_version_evaluate(version=version)  # manage.py evaluate and the task
    with pytest.raises(ValidationError, match="archived"):
        model_version_evaluate_queue(version=version, by=editor)  # the page
