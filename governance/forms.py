from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db.models import QuerySet

from governance.errors import GovernanceError
from governance.models import Adaptation, Modality, ModelVersion, Precision, ReviewDecision, TokenScope


def add_service_errors(form: forms.Form, error: GovernanceError) -> None:
    """Shows a service's refusal on the form: per field where it names one."""
    for field, messages in error.field_errors.items():
        for message in messages:
            form.add_error(field if field in form.fields else None, message)
    if not error.field_errors:
        form.add_error(None, error.message)


class ProjectForm(forms.Form):
    name = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=80, help_text="Short name used in links, e.g. 'assistant-llm'.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class MlflowConnectForm(forms.Form):
    default_author = forms.ModelChoiceField(
        queryset=User.objects.none(), help_text="Writes the draft review of a version without a greenlight.author tag."
    )
    production_aliases = forms.CharField(
        initial="production, champion",
        help_text="Comma-separated aliases that mean serving: set on an unreleased version, they notify the officers.",
    )

    def __init__(self, *args: Any, authors: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_author"].queryset = authors  # type: ignore[attr-defined]

    def clean_production_aliases(self) -> list[str]:
        return [a.strip() for a in self.cleaned_data["production_aliases"].split(",") if a.strip()]


class RegisteredModelForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class ModelVersionForm(forms.Form):
    version = forms.CharField(max_length=64)
    base_version = forms.ModelChoiceField(queryset=ModelVersion.objects.none(), required=False)
    adaptation = forms.ChoiceField(choices=Adaptation.choices)
    parameters = forms.IntegerField(min_value=1, help_text="Total parameters.")
    active_parameters = forms.IntegerField(
        min_value=1, required=False, help_text="Mixture-of-experts only: parameters active per token."
    )
    precision = forms.ChoiceField(choices=Precision.choices)
    training_tokens = forms.IntegerField(min_value=0, required=False)
    modality = forms.ChoiceField(choices=Modality.choices)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args: object, base_choices: object = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if base_choices is not None:
            self.fields["base_version"].queryset = base_choices  # type: ignore[attr-defined]


class ApiTokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where it is used, e.g. 'training pipeline (prod)'.")
    scopes = forms.MultipleChoiceField(choices=TokenScope.choices, widget=forms.CheckboxSelectMultiple)


class ReviewForm(forms.Form):
    goal_and_scope = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Functional unit, system boundary: what is in, what is out.",
    )
    training_inventory = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    inference_projection = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Expected volume (tokens, requests) and its footprint.",
    )
    comparison = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Against the previous release and the base model.",
    )
    mitigations = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Precision, distillation, adapters, region and timing choices…",
    )
    hardware_and_suppliers = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    justification = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Why a regression or low coverage is acceptable, if one is.",
    )


class DecisionForm(forms.Form):
    verdict = forms.ChoiceField(choices=ReviewDecision.Verdict.choices, widget=forms.RadioSelect)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), help_text="Every decision carries a note.")


class CommentForm(forms.Form):
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Comment")
