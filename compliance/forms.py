from pathlib import Path

from django import forms

from blogllm.uploads import upload_problem
from compliance.deid import LABELS


def _check_upload(upload: object, suffixes: tuple[str, ...], what: str) -> object:
    if Path(upload.name).suffix.lower() not in suffixes:
        raise forms.ValidationError(f"Upload {what}.")
    problem = upload_problem(upload.name, upload.size)
    if problem:
        raise forms.ValidationError(problem)
    return upload


class PasteForm(forms.Form):
    title = forms.CharField(max_length=200, required=False, help_text="Optional; no PHI.")
    # Not stripped: the service validates and keeps the text exactly as pasted.
    text = forms.CharField(
        label="Note text", strip=False, widget=forms.Textarea(attrs={"rows": 14})
    )


class UploadForm(forms.Form):
    title = forms.CharField(max_length=200, required=False, help_text="Optional; no PHI.")
    file = forms.FileField(help_text="One note: a .txt (UTF-8 or Windows-1252) or .docx file.")

    def clean_file(self) -> object:
        return _check_upload(self.cleaned_data["file"], (".txt", ".docx"), "a .txt or .docx file")


class BatchForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text='One note per row: a "text" column, and optionally a "title" column.',
    )

    def clean_file(self) -> object:
        return _check_upload(self.cleaned_data["file"], (".csv",), "a .csv file")


class MarkForm(forms.Form):
    start = forms.IntegerField(min_value=0)
    end = forms.IntegerField(min_value=1)
    category = forms.ChoiceField(
        choices=[(label, label.replace("_", " ").title()) for label in LABELS]
    )

    def clean(self) -> dict:
        data = super().clean()
        if "start" in data and "end" in data and data["end"] <= data["start"]:
            raise forms.ValidationError("The span must end after it starts.")
        return data


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)
