"""The one end-to-end check on the real base model: fine-tuning SmolLM2-135M-Instruct on the demo
blog lowers its validation perplexity. Slow (about 3 minutes on 2 CPU cores, plus 30 s the first
time to dequantise the bundled GGUF into the model cache), so it is marked `real_model`."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.roles import Role
from blogllm.demo import seed_demo_posts
from posts.models import Post
from tests.accounts.factories import UserFactory
from training.models import ModelVersion

pytestmark = [pytest.mark.real_model, pytest.mark.django_db]


def test_training_on_the_demo_blog_beats_the_base_model_on_held_out_posts(settings) -> None:
    settings.EVAL_SAMPLE_TOKENS = 24  # the samples are for people; this test reads the metrics
    author = UserFactory(roles=[Role.AUTHOR])
    seed_demo_posts(author)
    assert Post.objects.filter(split="validation").exists()
    out = StringIO()

    # Fewer and shorter steps than the defaults, at a higher learning rate: the same code path.
    call_command(
        "train", "--channel", "general", "--max-steps", "6", "--max-length", "256",
        "--learning-rate", "0.001", stdout=out,
    )  # fmt: skip

    version = ModelVersion.objects.get()
    metrics = version.metrics
    assert metrics["val_perplexity"] < metrics["base_val_perplexity"], metrics
    assert version.run.dataset.validation_count >= 1 and version.checkpoint_step > 0
    assert "validation perplexity" in out.getvalue()
