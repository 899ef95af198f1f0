"""Published posts for external sites: list (filters, cursor pages) and detail by slug."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from posts.models import Post
from publishing import selectors
from publishing.api.base import ApiView, StrictSerializer
from publishing.api.serializers import PostOutputSerializer


class PostCursor(CursorPagination):
    """Stable pages even while posts are published: newest first, ties broken by id."""

    page_size = 20
    max_page_size = 100
    page_size_query_param = "page_size"
    ordering = ("-published_at", "-id")


class PostFilterSerializer(StrictSerializer):
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
        parameters=[PostFilterSerializer], responses={200: PostOutputSerializer(many=True)}
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
        page = pages.paginate_queryset(posts, request, view=self)
        body = PostOutputSerializer(page, many=True, context={"request": request}).data
        return pages.get_paginated_response(body)


class PostDetailApi(ApiView):
    @extend_schema(responses={200: PostOutputSerializer})
    def get(self, request: Request, slug: str) -> Response:
        post = selectors.published_post_list().filter(slug=slug).first()
        if post is None:
            from rest_framework.exceptions import NotFound

            raise NotFound("No published post has this slug.")
        return Response(PostOutputSerializer(post, context={"request": request}).data)
