"""The API against its own OpenAPI schema: schemathesis sends generated requests to the live test
server, and every answer must be no 5xx, a documented status code and content type, and a body
and headers that match the schema. Bounded and derandomised, so that CI is repeatable."""

import json

import pytest
import schemathesis
from django.utils import timezone
from hypothesis import HealthCheck, settings

from posts.models import Post
from publishing.services.keys import api_key_create
from tests.posts.factories import make_post

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

EXAMPLES = 25


def _schema() -> dict:
    """The schema /api/v1/schema/ serves (a test below checks that it is the same)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(public=True)))


SCHEMA = _schema()
schema = schemathesis.openapi.from_dict(SCHEMA)


@pytest.fixture
def api_headers(admin_user, author, settings):  # noqa: ANN001, ANN201
    # Generated requests come fast, from one address: out of the throttles' way.
    settings.API_RATE_PER_IP = settings.API_RATE_PER_KEY = 1_000_000
    for n in range(3):
        make_post(
            author, status=Post.Status.PUBLISHED, published_at=timezone.now(),
            slug=f"published-{n}", tags=["sleep"],
        )  # fmt: skip
    make_post(author, status=Post.Status.DRAFT, slug="a-draft")
    _, secret = api_key_create(by=admin_user, user=author, scopes=("posts:read", "drafts:write"))
    return {"Authorization": f"Bearer {secret}"}


def test_the_server_serves_this_schema(client) -> None:  # noqa: ANN001
    assert client.get("/api/v1/schema/?format=json").json() == SCHEMA


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_matches_the_schema(case, live_server, api_headers) -> None:  # noqa: ANN001
    case.call_and_validate(base_url=live_server.url, headers=api_headers)
