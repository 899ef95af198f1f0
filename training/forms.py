"""Forms for the training pages. They parse input; the rules (ranges, who may do what) stay in
the services and in the trainer's TrainConfig, so the form, the command and a task agree."""

from django import forms

from accounts.models import User
from posts.models import Post

# The trainer's defaults, for when training.config cannot be imported here (see _defaults).
FALLBACK_DEFAULTS = {
    "max_steps": None,
    "epochs": 1.0,
    "batch_size": 4,
    "max_length": 512,
    "learning_rate": 2e-4,
    "rank": 16,
}
HYPERPARAMETERS = tuple(FALLBACK_DEFAULTS)


def _defaults() -> dict:
    """TrainConfig's defaults, read at form time (not import time): the module that holds it
    may import torch, which the web process must not load just to draw a form."""
    try:
        from training.config import TrainConfig
    except ImportError:
        return dict(FALLBACK_DEFAULTS)
    config = TrainConfig.from_dict({}).to_dict()
    return {name: config.get(name, FALLBACK_DEFAULTS[name]) for name in HYPERPARAMETERS}


class RunStartForm(forms.Form):
    channel = forms.ChoiceField(choices=Post.Channel.choices)
    authors = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(),
        required=False,
        help_text="General channel only. None chosen: every author's posts.",
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    max_steps = forms.IntegerField(
        label="Max steps", required=False, help_text="Blank: train by epochs."
    )
    epochs = forms.FloatField(widget=forms.NumberInput(attrs={"step": "any"}))
    batch_size = forms.IntegerField(label="Batch size")
    max_length = forms.IntegerField(label="Sequence length", help_text="Tokens per sample.")
    learning_rate = forms.FloatField(
        label="Learning rate", widget=forms.NumberInput(attrs={"step": "any"})
    )
    rank = forms.IntegerField(label="LoRA rank")

    def __init__(self, *args: object, channels: list[str], **kwargs: object) -> None:
        defaults = _defaults()
        kwargs.setdefault("initial", {**defaults, "channel": channels[0] if channels else ""})
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [
            (value, label) for value, label in Post.Channel.choices if value in channels
        ]
        self.fields["authors"].queryset = (
            User.objects.filter(posts__channel=Post.Channel.GENERAL).distinct().order_by("email")
        )
        if Post.Channel.GENERAL not in channels:
            del self.fields["authors"]
        self.defaults = defaults

    def hyperparameters(self) -> dict:
        """What the user set; a blank max steps means "by epochs" (left to the default)."""
        data = self.cleaned_data
        return {name: data[name] for name in HYPERPARAMETERS if data.get(name) is not None}

    def author_ids(self) -> list[int]:
        """Chosen authors (general channel only). Also read after a failed is_valid(), for
        the dataset preview: cleaned_data then holds the fields that were valid."""
        if self.cleaned_data.get("channel") != Post.Channel.GENERAL:
            return []
        return sorted(user.id for user in self.cleaned_data.get("authors") or [])


class PromoteForm(forms.Form):
    confirmed = forms.BooleanField(
        label="I have compared these metrics",
        error_messages={"required": "Tick the box to say that you compared the metrics."},
    )
    reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional; recorded with the promotion.",
    )


class RollbackForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.TextInput(attrs={"placeholder": "Why roll back?"}),
        help_text="Recorded in the audit trail.",
        error_messages={"required": "Say why you roll back: it goes into the audit trail."},
    )


class RetrainPolicyForm(forms.Form):
    """A channel's scheduled retraining (training/services/retraining.py holds the rules)."""

    enabled = forms.BooleanField(label="Retrain on a schedule", required=False)
    min_new_items = forms.IntegerField(
        label="After this many new posts (or notes)",
        required=False,
        min_value=1,
        help_text="Blank: not by count.",
    )
    every_days = forms.IntegerField(
        label="Or every so many days",
        required=False,
        min_value=1,
        help_text="Blank: not by age. Only when something is new.",
    )
    quiet_hour = forms.TypedChoiceField(
        label="Quiet hour",
        coerce=int,
        choices=[(h, f"{h:02d}:00") for h in range(24)],
        initial=3,
        help_text="Runs start in this hour, server time.",
    )
    promote_when_better = forms.BooleanField(
        label="Promote the candidate when it is better on every gate",
        required=False,
        help_text="Off: it stays a candidate for a person to promote.",
    )

    def __init__(self, *args: object, channel: str, **kwargs: object) -> None:
        kwargs.setdefault("auto_id", f"policy-{channel}-%s")
        super().__init__(*args, **kwargs)
