"""The two scores on every draft, and the author's voice guide in prompts and the guard."""

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from generation.guard import blocking, check_draft
from generation.models import VoiceGuide
from generation.scores import grounding, sentences, style_fidelity
from generation.services.voice import voice_guide_update
from generation.workflow import draft_messages

VOCAB = ["tea", "calm", "run", "work", "sleep", "dog"]


def embed(texts: list[str]) -> np.ndarray:
    """Bag of words over a tiny vocabulary: texts on the same things point the same way."""
    return np.array([[t.lower().count(w) + 1e-6 for w in VOCAB] for t in texts])


def test_sentences_skip_headings_and_fragments():
    assert sentences("## Tea\n\nTea keeps me calm today. Yes. I run to work daily!") == [
        "Tea keeps me calm today.",
        "I run to work daily!",
    ]


def test_grounding_is_the_share_of_sentences_a_source_supports():
    draft = "Tea keeps me calm today. My dog sleeps all day long."
    sources = ["Afternoon tea, calm and slow.", "Tea again, and calm."]

    assert grounding(draft, sources, embed) == 0.5
    assert grounding(draft, [], embed) == 0.0
    assert grounding("Too short.", sources, embed) is None


def test_style_fidelity_is_higher_for_a_draft_on_the_authors_usual_ground():
    references = ["Tea and calm mornings.", "More tea, more calm."]

    on = style_fidelity("Tea makes me calm.", references, embed)
    off = style_fidelity("The dog likes to run.", references, embed)

    assert on > off and style_fidelity("", references, embed) is None


@pytest.mark.django_db
def test_the_voice_guide_goes_into_the_prompt_and_its_avoided_words_into_the_guard(author):
    guide = voice_guide_update(
        author=author,
        by=author,
        tone="warm, plain",
        use_words="walk, notice",
        avoid_words="leverage, synergy",
        structure="short paragraphs",
    )

    system = draft_messages({"topic": "Tea"}, [], guide.as_prompt())[0]["content"]
    findings = check_draft("We leverage tea.", channel="general", avoid=guide.avoid_list)

    assert "Tone: warm, plain" in system and "Never use: leverage, synergy" in system
    assert [f["kind"] for f in findings] == ["avoid_word"] and not blocking(findings)


@pytest.mark.django_db
def test_only_the_author_or_an_editor_changes_a_voice_guide(author, editor, outsider):
    voice_guide_update(author=author, by=editor, tone="dry")
    with pytest.raises(PermissionDenied):
        voice_guide_update(author=author, by=outsider, tone="loud")
    with pytest.raises(ValidationError, match="Unknown"):
        voice_guide_update(author=author, by=author, colour="blue")
    assert VoiceGuide.objects.get(author=author).tone == "dry"
