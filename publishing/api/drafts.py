"""Drafts in: create (scope drafts:write), read and edit while still a draft, submit for review.

Edits are optimistic: send `If-Match` with the ETag you read; a stale one gets 412, none 428.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from posts.models import Post
from posts.services.editing import StaleEditError
from publishing.api.auth import WriteDrafts
from publishing.api.base import ApiView, StrictSerializer, TextField
from publishing.api.errors import Conflict, PreconditionFailed, PreconditionRequired, documented
from publishing.api.serializers import TagNamesField
from publishing.services import drafts


class DraftInputSerializer(StrictSerializer):
    title = TextField(max_length=300)
    body_markdown = TextField(allow_blank=True, required=False, default="")
    excerpt = TextField(allow_blank=True, required=False, default="")
    tags = serializers.ListField(
        child=TextField(max_length=64), max_length=20, required=False, default=list
    )
    channel = serializers.ChoiceField(choices=Post.Channel.choices, default=Post.Channel.GENERAL)


class DraftPatchSerializer(StrictSerializer):
    title = TextField(max_length=300, required=False)
    body_markdown = TextField(allow_blank=True, required=False)
    excerpt = TextField(allow_blank=True, required=False)
    tags = serializers.ListField(child=TextField(max_length=64), max_length=20, required=False)


class DraftOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.SlugField()
    title = serializers.CharField()
    body_markdown = serializers.CharField()
    excerpt = serializers.CharField()
    tags = TagNamesField()
    channel = serializers.CharField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


def draft_etag(post: Post) -> str:
    """A strong tag (If-Match compares strongly): the post and its content version."""
    return f'"d{post.id}v{post.version}"'


def _answer(post: Post, code: int = status.HTTP_200_OK) -> Response:
    response = Response(DraftOutputSerializer(post).data, status=code)
    response["ETag"] = draft_etag(post)
    return response


def _valid(serializer_class: type, request: Request) -> dict:
    if not isinstance(request.data, dict):
        raise serializers.ValidationError("Send a JSON object.")
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class _DraftsApi(ApiView):
    permission_classes = [WriteDrafts]

    def _own(self, request: Request, post_id: int) -> Post:
        try:
            return drafts.api_draft_get(by=request.user, post_id=post_id)
        except Post.DoesNotExist:
            raise NotFound("None of this key's owner's posts has that id.") from None


class DraftCreateApi(_DraftsApi):
    @extend_schema(
        request=DraftInputSerializer,
        responses={201: DraftOutputSerializer, **documented(400, 401, 403, 413, 415, 429)},
    )
    def post(self, request: Request) -> Response:
        """Create a draft as the key's owner; people review and publish it in BlogLLM."""
        post = drafts.api_draft_create(by=request.user, **_valid(DraftInputSerializer, request))
        response = _answer(post, status.HTTP_201_CREATED)
        response["Location"] = request.build_absolute_uri(f"{post.id}/")
        return response


class DraftDetailApi(_DraftsApi):
    @extend_schema(responses={200: DraftOutputSerializer, **documented(401, 403, 404, 429)})
    def get(self, request: Request, post_id: int) -> Response:
        return _answer(self._own(request, post_id))

    @extend_schema(
        request=DraftPatchSerializer,
        responses={
            200: DraftOutputSerializer,
            **documented(400, 401, 403, 404, 409, 412, 413, 415, 428, 429),
        },
        parameters=[OpenApiParameter("If-Match", str, OpenApiParameter.HEADER, required=True)],
    )
    def patch(self, request: Request, post_id: int) -> Response:
        post = self._own(request, post_id)
        if_match = request.headers.get("If-Match")
        if not if_match:
            raise PreconditionRequired()
        if if_match.strip() != draft_etag(post):
            raise PreconditionFailed()
        if post.status != Post.Status.DRAFT:
            raise Conflict(f"The post is {post.get_status_display().lower()}; only drafts change.")
        changes = _valid(DraftPatchSerializer, request)
        try:
            post = drafts.api_draft_update(
                by=request.user, post=post, expected_version=post.version, changes=changes
            )
        except StaleEditError:
            raise PreconditionFailed() from None
        return _answer(drafts.api_draft_get(by=request.user, post_id=post.id))


class DraftSubmitApi(_DraftsApi):
    @extend_schema(
        request=None, responses={200: DraftOutputSerializer, **documented(401, 403, 404, 409, 429)}
    )
    def post(self, request: Request, post_id: int) -> Response:
        """Send the draft to review. Approving and publishing are for people, in BlogLLM."""
        post = self._own(request, post_id)
        if post.status != Post.Status.DRAFT:
            raise Conflict(f"The post is {post.get_status_display().lower()} already.")
        drafts.api_draft_submit(by=request.user, post=post)
        return _answer(drafts.api_draft_get(by=request.user, post_id=post.id))
