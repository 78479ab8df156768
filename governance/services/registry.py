"""Use cases of the model registry: projects, their members, models and versions."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, User
from django.db import IntegrityError, transaction

from governance.access import require_owner, require_registry_editor, require_visible
from governance.errors import Conflict, GovernanceError
from governance.models import (
    Adaptation,
    Membership,
    ModelVersion,
    Project,
    RegisteredModel,
    Role,
    VersionStatus,
)
from governance.services import audit, gate_records

# Fields that describe what was trained; they are frozen once a version is released.
VERSION_SUBSTANCE_FIELDS = (
    "base_version",
    "adaptation",
    "parameters",
    "active_parameters",
    "precision",
    "training_tokens",
    "modality",
    "artifact_sha256",  # the released artefact: the attestation's subject
)
VERSION_EDITABLE_FIELDS = (*VERSION_SUBSTANCE_FIELDS, "description", "source_uri", "source_run_id")


def role_group(role: Role) -> Group:
    group, _ = Group.objects.get_or_create(name=role.value)
    return group


@transaction.atomic
def create_project(*, owner: User, name: str, slug: str, description: str = "") -> Project:
    if Project.objects.filter(slug=slug).exists():
        raise Conflict("A project with this slug already exists.", field_errors={"slug": ["Already taken."]})
    project = Project.objects.create(owner=owner, name=name, slug=slug, description=description)
    audit.record(
        actor=owner, action="project.created", obj=project, project_id=project.pk, payload={"name": name, "slug": slug}
    )
    return project


@transaction.atomic
def update_project(*, project: Project, actor: User, changes: dict[str, Any]) -> Project:
    require_owner(actor, project)
    if "slug" in changes and Project.objects.exclude(pk=project.pk).filter(slug=changes["slug"]).exists():
        raise Conflict("A project with this slug already exists.", field_errors={"slug": ["Already taken."]})
    for field in ("name", "slug", "description", "eu_checks_blocking"):
        if field in changes:
            setattr(project, field, changes[field])
    project.save()
    if "eu_checks_blocking" in changes:
        gate_records.mark_project_stale(project.pk)  # the eu_documentation rule reads it
    audit.record(actor=actor, action="project.updated", obj=project, project_id=project.pk, payload=changes)
    return project


@transaction.atomic
def set_membership(*, project: Project, actor: User, user: User, roles: list[Role]) -> Membership | None:
    """Gives `user` exactly `roles` in `project`; an empty list removes the member."""
    require_owner(actor, project)
    payload = {"user": user.get_username(), "roles": sorted(str(r) for r in roles)}
    signing = {Role(r) for r in project.signoff_roles} & {Role(r) for r in roles}
    if Role.PIPELINE in roles and signing:
        raise GovernanceError(
            "A service account (the Pipeline role) cannot also hold a sign-off role: reviews are signed by people.",
            field_errors={"roles": [f"Pipeline with {', '.join(sorted(r.label for r in signing))}."]},
        )
    if not roles:
        Membership.objects.filter(project=project, user=user).delete()
        audit.record(actor=actor, action="member.removed", obj=project, project_id=project.pk, payload=payload)
        return None
    membership, _ = Membership.objects.get_or_create(project=project, user=user)
    membership.roles.set([role_group(Role(role)) for role in roles])
    audit.record(actor=actor, action="member.roles_set", obj=project, project_id=project.pk, payload=payload)
    return membership


@transaction.atomic
def register_model(*, project: Project, actor: User, name: str, description: str = "") -> RegisteredModel:
    require_registry_editor(actor, project)
    if RegisteredModel.objects.filter(project=project, name=name).exists():
        raise Conflict(
            f"Project '{project.slug}' already has a model named '{name}'.", field_errors={"name": ["Already taken."]}
        )
    model = RegisteredModel.objects.create(project=project, name=name, description=description)
    audit.record(actor=actor, action="model.registered", obj=model, project_id=project.pk, payload={"name": name})
    return model


@transaction.atomic
def update_model(*, model: RegisteredModel, actor: User, changes: dict[str, Any]) -> RegisteredModel:
    require_registry_editor(actor, model.project)
    name = changes.get("name", model.name)
    if RegisteredModel.objects.exclude(pk=model.pk).filter(project=model.project, name=name).exists():
        raise Conflict(
            f"Project '{model.project.slug}' already has a model named '{name}'.",
            field_errors={"name": ["Already taken."]},
        )
    model.name = name
    model.description = changes.get("description", model.description)
    model.save()
    audit.record(actor=actor, action="model.updated", obj=model, project_id=model.project_id, payload=changes)
    return model


def _check_version_fields(version: ModelVersion, actor: User) -> None:
    errors: dict[str, list[str]] = {}
    base = version.base_version
    if base is not None:
        require_visible(actor, base.project)
        if base.project != version.project:
            errors["base_version"] = ["The base version must belong to the same project."]
        elif version.pk is not None and (base.pk == version.pk or version in base.lineage()):
            errors["base_version"] = ["A version cannot descend from itself."]
    if version.adaptation == Adaptation.PRETRAINING and base is not None:
        errors["base_version"] = ["A pre-trained version has no base version; choose another adaptation method."]
    if version.parameters is not None and version.parameters <= 0:
        errors["parameters"] = ["Must be a positive number of parameters."]
    if version.active_parameters is not None and not 0 < version.active_parameters <= (version.parameters or 0):
        errors["active_parameters"] = ["Must be positive and no more than the total parameters."]
    if version.training_tokens is not None and version.training_tokens < 0:
        errors["training_tokens"] = ["Cannot be negative."]
    if errors:
        raise GovernanceError("The model version is not valid.", field_errors=errors)


@transaction.atomic
def register_version(*, registered_model: RegisteredModel, actor: User, **fields: Any) -> ModelVersion:
    """Registers a new version of `registered_model` with its lineage; it starts as a draft."""
    require_registry_editor(actor, registered_model.project)
    unknown = set(fields) - {"version", *VERSION_EDITABLE_FIELDS}
    if unknown:
        raise GovernanceError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    version = ModelVersion(registered_model=registered_model, **fields)
    _check_version_fields(version, actor)
    if ModelVersion.objects.filter(registered_model=registered_model, version=version.version).exists():
        raise Conflict(
            f"Model '{registered_model.name}' already has a version '{version.version}'.",
            field_errors={"version": ["Already registered."]},
        )
    try:
        with transaction.atomic():
            version.save()
    except IntegrityError as exc:  # a concurrent registration of the same version
        raise Conflict(f"Could not register the version: {exc}") from exc
    audit.record(
        actor=actor,
        action="version.registered",
        obj=version,
        project_id=registered_model.project_id,
        payload={
            "version": version.version,
            "base_version": version.base_version_id,
            "adaptation": version.adaptation,
            "parameters": version.parameters,
        },
    )
    return version


@transaction.atomic
def update_version(*, version: ModelVersion, actor: User, changes: dict[str, Any]) -> ModelVersion:
    require_registry_editor(actor, version.project)
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == VersionStatus.RELEASED:
        frozen = sorted(set(changes) & set(VERSION_SUBSTANCE_FIELDS))
        if frozen:
            raise Conflict(f"Version {version} is released; these fields can no longer change: {', '.join(frozen)}.")
    for field in VERSION_EDITABLE_FIELDS:
        if field in changes:
            setattr(version, field, changes[field])
    _check_version_fields(version, actor)
    version.save()
    audit.record(
        actor=actor,
        action="version.updated",
        obj=version,
        project_id=version.project.pk,
        payload={k: getattr(v, "pk", v) for k, v in changes.items()},
    )
    return version
