from datetime import datetime

from django import forms
from django.utils import timezone

from blogllm.uploads import upload_problem
from posts.models import Post
from posts.services.editing import normalise_tags


class PostForm(forms.Form):
    title = forms.CharField(max_length=300)
    slug = forms.SlugField(max_length=100, required=False, help_text="Leave empty to derive it.")
    excerpt = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    tags = forms.CharField(required=False, help_text="Comma-separated.")
    body_markdown = forms.CharField(
        label="Text (Markdown)", required=False,
        widget=forms.Textarea(attrs={"rows": 24, "class": "editor", "spellcheck": "true"}),
    )  # fmt: skip
    # The version this edit started from: a save over a newer version is refused, not merged.
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def clean_tags(self) -> list[str]:
        return normalise_tags(self.cleaned_data["tags"].split(","))

    @classmethod
    def for_post(cls, post: Post, **kwargs: object) -> "PostForm":
        initial = {
            "title": post.title,
            "slug": post.slug,
            "excerpt": post.excerpt,
            "tags": ", ".join(t.name for t in post.tags.all()),
            "body_markdown": post.body_markdown,
            "version": post.version,
        }
        return cls(initial=initial, **kwargs)


class NewPostForm(PostForm):
    channel = forms.ChoiceField(choices=Post.Channel.choices, initial=Post.Channel.GENERAL)


class CommentForm(forms.Form):
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ScheduleForm(forms.Form):
    at = forms.DateTimeField(
        label="Publish at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M"],
    )

    def clean_at(self) -> datetime:
        at = self.cleaned_data["at"]
        return timezone.make_aware(at) if timezone.is_naive(at) else at


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="A zip or folder export of Markdown files with front matter, a WordPress "
        "export (.xml), an RSS or Atom feed, or an HTML file."
    )
    channel = forms.ChoiceField(choices=Post.Channel.choices, initial=Post.Channel.GENERAL)

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        problem = upload_problem(upload.name, upload.size)
        if problem:
            raise forms.ValidationError(problem)
        return upload


class PostFilterForm(forms.Form):
    q = forms.CharField(required=False, label="Title or text")
    status = forms.ChoiceField(choices=[("", "Any status"), *Post.Status.choices], required=False)
    channel = forms.ChoiceField(
        choices=[("", "Any channel"), *Post.Channel.choices], required=False
    )
    tag = forms.CharField(required=False)


class SearchForm(forms.Form):
    q = forms.CharField(label="Search", max_length=500)
    channel = forms.ChoiceField(
        choices=Post.Channel.choices, initial=Post.Channel.GENERAL, required=False
    )
    include_drafts = forms.BooleanField(required=False, label="Include drafts and posts in review")
