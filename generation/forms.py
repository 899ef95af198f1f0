"""Forms for the drafting pages: the brief (with advanced sampling settings) and the run filters.

The forms check types and ranges a browser can show; the service (brief_clean, SamplingSettings)
stays the judge, and its ValidationError lands on the form as a non-field error.
"""

from django import forms

from generation.models import GenerationRun
from generation.selectors import RunFilters
from posts.models import Post
from training.models import ModelVersion


class BriefForm(forms.Form):
    topic = forms.CharField(max_length=300)
    outline = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}), max_length=2000
    )
    audience = forms.CharField(required=False, max_length=300)
    tone = forms.CharField(required=False, max_length=300)
    length = forms.IntegerField(
        required=False, min_value=50, max_value=3000, label="Length (words)"
    )
    channel = forms.ChoiceField(choices=())
    max_new_tokens = forms.IntegerField(required=False, min_value=1, max_value=4096)
    temperature = forms.FloatField(
        required=False, min_value=0, max_value=2, help_text="0: always the likeliest word."
    )
    seed = forms.IntegerField(
        required=False, min_value=0, max_value=2**32 - 1, help_text="The same seed, the same text."
    )

    ADVANCED = ("max_new_tokens", "temperature", "seed")

    def __init__(self, *args: object, channels: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(c, Post.Channel(c).label) for c in channels]

    def brief(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in ("topic", "outline", "audience", "tone", "length")}

    def sampling(self) -> dict:
        """Only the settings given: the rest keep SamplingSettings' defaults."""
        return {k: self.cleaned_data[k] for k in self.ADVANCED if self.cleaned_data[k] is not None}

    def basic_fields(self) -> list:
        return [f for f in self if f.name not in self.ADVANCED]

    def advanced_fields(self) -> list:
        return [f for f in self if f.name in self.ADVANCED]


class RunFilterForm(forms.Form):
    channel = forms.ChoiceField(required=False)
    kind = forms.ChoiceField(
        required=False, choices=[("", "Any kind"), *GenerationRun.Kind.choices]
    )
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *GenerationRun.Status.choices]
    )
    model_version = forms.ChoiceField(required=False, label="Model")
    slower_than = forms.FloatField(required=False, min_value=0, label="Slower than (s)")

    def __init__(self, *args: object, channels: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [
            ("", "Any channel"),
            *((c, Post.Channel(c).label) for c in channels),
        ]
        versions = ModelVersion.objects.filter(channel__in=channels).order_by("channel", "-number")
        self.fields["model_version"].choices = [
            ("", "Any model"),
            ("base", "Base model"),
            *((str(v.id), str(v)) for v in versions.only("id", "channel", "number")),
        ]

    def filters(self) -> RunFilters:
        """The valid filters; an invalid one is ignored rather than failing the page."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return RunFilters(
            channel=data.get("channel") or "",
            kind=data.get("kind") or "",
            status=data.get("status") or "",
            model_version=data.get("model_version") or "",
            slower_than_s=data.get("slower_than"),
        )


class FeedbackForm(forms.Form):
    thumbs = forms.ChoiceField(choices=[("up", "Thumbs up"), ("down", "Thumbs down")])
    comment = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    @property
    def thumbs_up(self) -> bool:
        return self.cleaned_data["thumbs"] == "up"


class VoiceGuideForm(forms.Form):
    """The four parts of an author's voice guide; voice_guide_update trims and stores them."""

    tone = forms.CharField(
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="How you sound, e.g. “warm, plain, a little dry”.",
    )
    use_words = forms.CharField(
        required=False,
        max_length=4000,
        label="Words to use",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, or separated by commas.",
    )
    avoid_words = forms.CharField(
        required=False,
        max_length=4000,
        label="Words to avoid",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line, or separated by commas. The guard flags them in drafts.",
    )
    structure = forms.CharField(
        required=False,
        max_length=4000,
        label="Structure habits",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="E.g. “short paragraphs; end with a question”.",
    )


class ExperimentForm(forms.Form):
    """Start an A/B experiment on one channel; experiment_start judges the rest."""

    channel = forms.ChoiceField(widget=forms.HiddenInput)
    name = forms.CharField(required=False, max_length=120, help_text="Blank: “vA vs vB”.")
    version_a = forms.ModelChoiceField(queryset=ModelVersion.objects.none(), label="Version A")
    version_b = forms.ModelChoiceField(queryset=ModelVersion.objects.none(), label="Version B")
    share_b = forms.FloatField(
        initial=0.5, min_value=0, max_value=1, label="Share of B", help_text="Between 0 and 1."
    )

    def __init__(self, *args: object, channel: str, channels: list[str], **kwargs: object) -> None:
        """`channel`: the one this form is drawn for; `channels`: those the user may post to."""
        kwargs.setdefault("auto_id", f"id_{channel}_%s")  # two channels' forms on one page
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [(c, c) for c in channels]
        self.fields["channel"].initial = channel
        versions = ModelVersion.objects.filter(channel=channel).order_by("-number")
        self.fields["version_a"].queryset = versions
        self.fields["version_b"].queryset = versions


class AssistForm(forms.Form):
    """The post editor's 'rewrite this selection' / 'continue from here' request. Offsets count
    characters (code points) in `text`, the editor's text as it is on screen."""

    post = forms.IntegerField(min_value=1)
    kind = forms.ChoiceField(
        choices=[(k, GenerationRun.Kind(k).label) for k in ("rewrite", "continue")]
    )
    text = forms.CharField(strip=False, required=False, max_length=500_000)
    start = forms.IntegerField(min_value=0)
    end = forms.IntegerField(min_value=0)
    instruction = forms.CharField(required=False, max_length=300)


class TakenForm(forms.Form):
    accepted = forms.IntegerField(min_value=0)
    total = forms.IntegerField(min_value=0)
