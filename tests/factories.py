from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from governance.models import Adaptation, ModelVersion, Precision, Project, RegisteredModel

PASSWORD = "correct-horse-battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def saved(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if create:
            obj.save()


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n}")
    slug = factory.Sequence(lambda n: f"project-{n}")
    owner = factory.SubFactory(UserFactory)


class RegisteredModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RegisteredModel

    project = factory.SubFactory(ProjectFactory)
    name = factory.Sequence(lambda n: f"model-{n}")


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    registered_model = factory.SubFactory(RegisteredModelFactory)
    version = factory.Sequence(lambda n: f"1.{n}")
    adaptation = Adaptation.PRETRAINING
    parameters = 7_000_000_000
    precision = Precision.BF16


def mark_released(version: ModelVersion) -> ModelVersion:
    """Only the release service may release; tests that need an already-released
    version open the same database gate it opens."""
    from django.db import connection, transaction
    from django.utils import timezone

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL greenlight.release_gate = 'open'")
        ModelVersion.objects.filter(pk=version.pk).update(status="released", released_at=timezone.now())
    version.refresh_from_db()
    return version
