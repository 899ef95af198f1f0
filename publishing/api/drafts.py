"""Drafts sent in by external tools (filled in by the drafts-API work)."""

from publishing.api.base import ApiView


class DraftCreateApi(ApiView):
    pass


class DraftDetailApi(ApiView):
    pass


class DraftSubmitApi(ApiView):
    pass
