"""Published posts, tags and authors for external sites (filled in by the read-API work)."""

from publishing.api.base import ApiView


class PostListApi(ApiView):
    pass


class PostDetailApi(ApiView):
    pass


class TagListApi(ApiView):
    pass


class AuthorListApi(ApiView):
    pass
