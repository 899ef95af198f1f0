"""The forms of the API keys and webhooks pages (the services check everything again)."""

from datetime import datetime, time

from django import forms
from django.utils import timezone

from accounts.models import User
from publishing.models import ApiKey, WebhookEndpoint


class ApiKeyForm(forms.Form):
    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True).order_by("email"),
        help_text="Whom the key acts as: drafts it sends are theirs.",
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple
    )
    expires_on = forms.DateField(
        required=False, widget=forms.DateInput({"type": "date"}),
        help_text="The key stops working at the end of this day (UTC). Empty: no expiry.",
    )  # fmt: skip
    note = forms.CharField(
        required=False, max_length=200, help_text="Where it is used, e.g. “the Hugo site's build”."
    )

    def expires_at(self) -> datetime | None:
        day = self.cleaned_data.get("expires_on")
        return timezone.make_aware(datetime.combine(day, time.max)) if day else None


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(
        max_length=500, assume_scheme="https",
        help_text="Where we POST events. Internal addresses are refused.",
    )  # fmt: skip
    events = forms.MultipleChoiceField(
        choices=WebhookEndpoint.Event.choices, widget=forms.CheckboxSelectMultiple
    )
    description = forms.CharField(required=False, max_length=200)
    is_active = forms.BooleanField(required=False, initial=True, label="Active")
