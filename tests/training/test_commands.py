"""The training commands: who they act as, how they name versions, and their refusals."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.training.factories import ModelVersionFactory
from training.management.commands._common import version_named
from training.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_versions_are_named_by_id_or_by_channel_and_number():
    version = ModelVersionFactory(number=3)

    assert version_named(str(version.id)) == version
    assert version_named("general:3") == version
    assert version_named("general v3") == version
    with pytest.raises(CommandError, match="No model version 'clinical:3'"):
        version_named("clinical:3")


def test_a_clinical_run_from_the_command_line_must_name_the_officer():
    with pytest.raises(CommandError, match="named compliance officer"):
        call_command("train", "--channel", "clinical", "--queue")


def test_train_refuses_unknown_authors_and_bad_settings(editor):
    with pytest.raises(CommandError, match="No author"):
        call_command("train", "--author", "nobody@example.com", "--queue")
    with pytest.raises(CommandError, match="rank"):
        call_command("train", "--rank", "0", "--queue", "--as", editor.email)


def test_promote_shows_both_versions_then_promotes_and_rolls_back(editor):
    first, second = ModelVersionFactory(), ModelVersionFactory()
    out = StringIO()
    call_command("promote", first.label.replace(" v", ":"), "--yes", "--as", editor.email)

    call_command("promote", str(second.id), "--yes", "--as", editor.email, stdout=out)

    assert "candidate" in out.getvalue() and "active" in out.getvalue()
    assert ModelVersion.objects.get(status="active") == second
    call_command("promote", "--rollback", "general", "--as", editor.email, stdout=out)
    assert ModelVersion.objects.get(status="active") == first
    with pytest.raises(CommandError, match="already active"):
        call_command("promote", str(first.id), "--yes")
