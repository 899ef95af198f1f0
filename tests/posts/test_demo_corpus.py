"""The demo blog that `make run` seeds: it imports cleanly and search finds the right post for a
question phrased in other words than the post uses."""

import pytest

from accounts.roles import Role
from blogllm.demo import DEMO_CORPUS, seed_demo_posts
from posts.models import Post
from posts.selectors import chunk_search
from posts.services.embedding import posts_embed_all
from tests.accounts.factories import UserFactory

# question → the slug of the post that answers it, worded unlike the post itself
PARAPHRASES = {
    "I wake up in the middle of the night and can't stop my mind racing": "worry-at-3am",
    "what does it cost to see you and can I pay less": "setting-fees",
    "my heart pounds and I think I'm dying out of nowhere": "panic-attacks-fear-of-fear",
    "is it normal to still be sad a year after my mother died": "grief-without-stages",
    "I was told as a grown-up that I have attention deficit": "adhd-diagnosed-in-adulthood",
    "what happens if I miss my appointment without telling you": "no-show-policy",
    "my kid scrolls on the phone in bed until midnight": "teenagers-phones-and-sleep",
    "keeps googling symptoms convinced of a serious illness": "health-anxiety-and-the-search-bar",
}


@pytest.fixture(scope="module")
def demo_blog(django_db_setup, django_db_blocker):  # noqa: ANN001, ANN201
    """The whole demo blog, imported and embedded once for this module."""
    with django_db_blocker.unblock():
        author = UserFactory(roles=[Role.AUTHOR])
        imported = seed_demo_posts(author)
        posts_embed_all()
        yield imported
        Post.objects.filter(author=author).delete()
        author.delete()


@pytest.mark.django_db
def test_the_demo_blog_imports_whole_and_clean(demo_blog) -> None:  # noqa: ANN001
    assert demo_blog == len(list(DEMO_CORPUS.glob("*.md"))) >= 30
    posts = Post.objects.filter(source=Post.Source.IMPORTED)
    assert not posts.exclude(contact_findings=[]).exists()  # no contact details in the demo
    assert not posts.exclude(duplicate_of=None).exists()
    assert posts.filter(split=Post.Split.VALIDATION).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("question", "slug"), PARAPHRASES.items())
def test_a_paraphrased_question_finds_its_post(demo_blog, question: str, slug: str) -> None:  # noqa: ANN001
    hits = chunk_search(question, limit=5)
    found = [hit.post_slug for hit in hits]
    assert slug in found[:3], f"{question!r} → {found}"
