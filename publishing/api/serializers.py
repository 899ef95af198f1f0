"""How a published post looks to an external site, provenance included."""

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from posts.models import Post


class TagNamesField(serializers.ListField):
    """A post's tags as their names (read from the prefetched `tags`)."""

    child = serializers.CharField()

    def to_representation(self, tags: object) -> list[str]:
        return [tag.name for tag in tags.all()]


class AuthorSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="get_full_name")


class ModelVersionSerializer(serializers.Serializer):
    channel = serializers.CharField()
    version = serializers.IntegerField(allow_null=True)
    base_model = serializers.CharField()


class SourceSerializer(serializers.Serializer):
    slug = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    kind = serializers.ChoiceField(choices=["post", "clinical_note"])


class ProvenanceSerializer(serializers.Serializer):
    ai_assisted = serializers.BooleanField()
    model = ModelVersionSerializer(allow_null=True)
    sources = SourceSerializer(many=True)
    edit_distance = serializers.FloatField(
        allow_null=True, help_text="0: published as drafted; 1: entirely rewritten."
    )
    clinical_grounding = serializers.CharField(allow_null=True)


class PostOutputSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    title = serializers.CharField()
    excerpt = serializers.CharField()
    body_markdown = serializers.CharField()
    body_html = serializers.CharField(help_text="Sanitised HTML: no scripts, styles or handlers.")
    channel = serializers.CharField()
    tags = TagNamesField()
    author = AuthorSerializer()
    published_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    word_count = serializers.IntegerField()
    reading_minutes = serializers.IntegerField()
    canonical_url = serializers.SerializerMethodField()
    provenance = serializers.SerializerMethodField()

    def get_canonical_url(self, post: Post) -> str:
        if settings.PUBLIC_POST_URL:
            return settings.PUBLIC_POST_URL.replace("{slug}", post.slug)
        path = reverse("api:post-detail", kwargs={"slug": post.slug})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else settings.SITE_URL + path

    @extend_schema_field(ProvenanceSerializer)
    def get_provenance(self, post: Post) -> dict:
        run = post.draft_runs[0] if post.draft_runs else None  # prefetched by the selector
        if run is None or post.source != Post.Source.AI_ASSISTED:
            return {"ai_assisted": post.source == Post.Source.AI_ASSISTED, "model": None,
                    "sources": [], "edit_distance": None, "clinical_grounding": None}  # fmt: skip
        version = run.model_version
        model = {
            "channel": run.channel,
            "version": version.number if version else None,
            "base_model": run.base_model,
        }
        return {
            "ai_assisted": True,
            "model": model,
            "sources": [self._source(s) for s in run.sources],
            "edit_distance": run.edit_distance,
            "clinical_grounding": (
                "Grounded only on clinical notes that passed de-identification and a compliance "
                "officer's review."
                if post.is_clinical
                else None
            ),
        }

    def _source(self, source: dict) -> dict:
        # Note text, titles and ids never leave: a clinical source is named only by its kind.
        if source.get("source") == "note" or source.get("note_id"):
            return {"slug": None, "url": None, "kind": "clinical_note"}
        slug = source.get("slug")
        if not slug and source.get("post_id"):
            slug = Post.objects.filter(id=source["post_id"]).values_list("slug", flat=True).first()
        url = self.get_canonical_url(Post(slug=slug)) if slug else None
        return {"slug": slug, "url": url, "kind": "post"}
