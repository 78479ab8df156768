from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self) -> None:
        # Register the Celery tasks in every process, so tasks sent by name resolve.
        from governance import signals, tasks  # noqa: F401
