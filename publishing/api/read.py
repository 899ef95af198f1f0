"""Published posts for external sites: list (filters, cursor pages) and detail by slug."""

from django.db.models import Count, Max, QuerySet
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from posts.models import Post
from publishing import selectors
from publishing.api.base import ApiView, StrictSerializer
from publishing.api.conditional import make_etag, not_modified, with_validators
from publishing.api.errors import ERROR_RESPONSES, documented
from publishing.api.serializers import PostOutputSerializer


class PostCursor(CursorPagination):
    """Stable pages even while posts are published: newest first, ties broken by id."""

    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"
    ordering = ("-published_at", "-id")


ORDERINGS = {
    "-published_at": ("-published_at", "-id"),
    "published_at": ("published_at", "id"),
    "-updated_at": ("-updated_at", "-id"),
}


NOT_MODIFIED = OpenApiResponse(
    description="Your copy (If-None-Match / If-Modified-Since) is current."
)


@extend_schema_serializer(component_name="Post")
class SelectedPostSerializer(PostOutputSerializer):
    """A published post: every field, or only those that `fields` names."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        # Only the schema uses this class: no field is required, the read-only ones included.
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = field.read_only = False


class PostPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = SelectedPostSerializer(many=True)


def selected_fields(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(PostOutputSerializer().fields))
    if not names or unknown:
        raise serializers.ValidationError(
            f"Unknown field(s): {', '.join(unknown) or '(none given)'}. "
            f"Pick from {', '.join(PostOutputSerializer().fields)}."
        )
    return names


def _only(body: dict, names: list[str] | None) -> dict:
    return {name: body[name] for name in names} if names else body


class FieldsSerializer(StrictSerializer):
    fields = serializers.CharField(
        required=False, help_text="Comma-separated fields to return, e.g. title,slug,excerpt."
    )

    def validate_fields(self, value: str) -> list[str]:
        return selected_fields(value)


# `fields=title,slug`: one comma-separated value (explode: false), each a field of the post.
FIELDS_PARAMETER = OpenApiParameter(
    "fields",
    {"type": "array", "items": {"enum": list(PostOutputSerializer().fields)}, "minItems": 1},
    explode=False,
    description="The fields to return, comma-separated, e.g. title,slug,excerpt.",
)


class PostFilterSerializer(FieldsSerializer):
    q = serializers.CharField(
        required=False, max_length=300,
        help_text="Search words: the web UI's hybrid search; results come best first.",
    )  # fmt: skip
    ordering = serializers.ChoiceField(
        choices=list(ORDERINGS), required=False,
        help_text="Sort order (not with q, whose results come best first).",
    )  # fmt: skip
    tag = serializers.CharField(required=False, max_length=64)
    channel = serializers.ChoiceField(choices=Post.Channel.choices, required=False)
    author = serializers.IntegerField(required=False, min_value=1)
    published_after = serializers.DateTimeField(required=False)
    published_before = serializers.DateTimeField(required=False)
    updated_after = serializers.DateTimeField(required=False)
    cursor = serializers.CharField(required=False)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=100)


class PostListApi(ApiView):
    @extend_schema(
        operation_id="posts_list",
        parameters=[PostFilterSerializer, FIELDS_PARAMETER],
        responses={
            200: PostPageSerializer,
            304: NOT_MODIFIED,
            **documented(400, 401, 403, 429),
            404: OpenApiResponse(
                ERROR_RESPONSES[404].response, description="No such page: a cursor we did not give."
            ),
        },
    )
    def get(self, request: Request) -> Response:
        """Published posts, newest first, 20 a page; follow `next` for the rest."""
        filters = PostFilterSerializer(data=request.query_params.dict())
        if not filters.is_valid():
            raise serializers.ValidationError(filters.errors)
        data = filters.validated_data
        posts: QuerySet[Post] = selectors.published_post_list(
            tag=data.get("tag", ""),
            channel=data.get("channel", ""),
            author_id=data.get("author"),
            published_after=data.get("published_after"),
            published_before=data.get("published_before"),
            updated_after=data.get("updated_after"),
        )
        pages = PostCursor()
        if data.get("ordering"):
            pages.ordering = ORDERINGS[data["ordering"]]
        if data.get("q", "").strip():
            posts = selectors.published_post_search(
                posts, data["q"], channel=data.get("channel", "")
            )
            pages.ordering = ("search_position", "id")
        # Any publication, edit or removal among the matching posts changes the newest update
        # time or the count; the query string names the page.
        stamp = posts.order_by().aggregate(newest=Max("updated_at"), count=Count("*"))
        etag = make_etag("posts", request.get_full_path(), stamp["newest"], stamp["count"])
        cached = not_modified(request, etag, stamp["newest"])
        if cached is not None:
            return cached
        page = pages.paginate_queryset(posts, request, view=self)
        names = data.get("fields")
        rows = PostOutputSerializer(page, many=True, context={"request": request}).data
        body = [_only(row, names) for row in rows]
        return with_validators(pages.get_paginated_response(body), etag, stamp["newest"])


class PostDetailApi(ApiView):
    @extend_schema(
        parameters=[FieldsSerializer, FIELDS_PARAMETER],
        responses={
            200: SelectedPostSerializer,
            304: NOT_MODIFIED,
            **documented(400, 401, 403, 404, 429),
        },
    )
    def get(self, request: Request, slug: str) -> Response:
        query = FieldsSerializer(data=request.query_params.dict())
        if not query.is_valid():
            raise serializers.ValidationError(query.errors)
        names = query.validated_data.get("fields")
        stamp = selectors.published_post_stamp(slug=slug)
        if stamp is None:
            raise NotFound("No published post has this slug.")
        etag = make_etag("post", request.get_full_path(), *stamp.values())
        cached = not_modified(request, etag, stamp["updated_at"])
        if cached is not None:
            return cached
        post = selectors.published_post_list().get(id=stamp["id"])
        body = _only(PostOutputSerializer(post, context={"request": request}).data, names)
        return with_validators(Response(body), etag, stamp["updated_at"])


class TagSerializer(serializers.Serializer):
    name = serializers.CharField()
    post_count = serializers.IntegerField()


class AuthorOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="get_full_name")
    post_count = serializers.IntegerField()


class _CountsApi(ApiView):
    """A short list of all items with their published-post counts, with an ETag."""

    serializer_class: type[serializers.Serializer]

    def rows(self) -> QuerySet:
        raise NotImplementedError

    def get(self, request: Request) -> Response:
        body = self.serializer_class(self.rows(), many=True).data
        etag = make_etag(type(self).__name__, body)
        cached = not_modified(request, etag, None)
        return cached if cached is not None else with_validators(Response(body), etag, None)


@extend_schema_view(
    get=extend_schema(
        responses={200: TagSerializer(many=True), 304: NOT_MODIFIED, **documented(401, 403, 429)}
    )
)
class TagListApi(_CountsApi):
    serializer_class = TagSerializer

    def rows(self) -> QuerySet:
        return selectors.published_tag_list()


@extend_schema_view(
    get=extend_schema(
        responses={
            200: AuthorOutputSerializer(many=True),
            304: NOT_MODIFIED,
            **documented(401, 403, 429),
        }
    )
)
class AuthorListApi(_CountsApi):
    serializer_class = AuthorOutputSerializer

    def rows(self) -> QuerySet:
        return selectors.published_author_list()
