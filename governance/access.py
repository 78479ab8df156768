"""Who may do what in a project. Every interface (API, web, admin actions) asks here."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet

from governance.errors import NotFound, NotPermitted
from governance.models import REGISTRY_EDITOR_ROLES, Deployment, Membership, Project, Role, Run, Webhook

Person = User | AnonymousUser  # whoever is asking, signed in or not


def roles_in(user: Person, project: Project) -> set[Role]:
    """The roles `user` holds in `project` (the owner holds none by right of ownership)."""
    if not user.is_authenticated:
        return set()
    membership = Membership.objects.filter(project=project, user=user).prefetch_related("roles").first()
    return set() if membership is None else membership.role_set()


def is_member(user: Person, project: Project) -> bool:
    return Project.objects.visible_to(user).filter(pk=project.pk).exists()


def require_visible(user: Person, project: Project) -> None:
    # An outsider learns nothing, not even that the project exists: 404, not 403.
    if not is_member(user, project):
        raise NotFound("Not found.")


def may_edit_registry(user: Person, project: Project) -> bool:
    """Registers models, versions, runs and reviews: the owner, ML leads and pipelines."""
    return is_owner(user, project) or bool(roles_in(user, project) & REGISTRY_EDITOR_ROLES)


def require_registry_editor(user: Person, project: Project) -> None:
    require_visible(user, project)
    if may_edit_registry(user, project):
        return
    raise NotPermitted(
        f"Registering models in project '{project.slug}' needs the project owner or the role "
        + " or ".join(sorted(r.label for r in REGISTRY_EDITOR_ROLES))
        + "."
    )


def is_owner(user: Person, project: Project) -> bool:
    return user.is_authenticated and project.owner_id == user.pk


def require_owner(user: Person, project: Project, what: str = "may do this") -> None:
    require_visible(user, project)
    if not is_owner(user, project):
        raise NotPermitted(f"Only the owner of project '{project.slug}' {what}.")


def require_budget_setter(user: Person, project: Project) -> None:
    """Budgets are set by the project's owner or a sustainability officer."""
    if not is_owner(user, project):
        require_role(user, project, Role.SUSTAINABILITY_OFFICER)


def webhooks_managed_by(user: Person) -> QuerySet[Webhook]:
    """Webhooks are the project owner's: their URLs and delivery logs are shown to nobody else."""
    if not user.is_authenticated:
        return Webhook.objects.none()
    return Webhook.objects.filter(project__owner=user)


def require_role(user: Person, project: Project, role: Role) -> None:
    require_visible(user, project)
    if role not in roles_in(user, project):
        raise NotPermitted(f"This needs the role {role.label} in project '{project.slug}'.")


def telemetry_labels(user: Person) -> set[str] | None:
    """The telemetry labels a person may see: those of the runs and deployments of the
    projects visible to them; all of them for staff (TELEMETRY_LABEL_ACCESS)."""
    if getattr(user, "is_staff", False):
        return None
    projects = Project.objects.visible_to(user).values("pk")
    runs = Run.objects.filter(model_version__registered_model__project__in=projects).values_list("label", flat=True)
    served = Deployment.objects.filter(model_version__registered_model__project__in=projects).values_list(
        "label", flat=True
    )
    return set(runs) | set(served)
