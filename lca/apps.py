from django.apps import AppConfig


class LcaConfig(AppConfig):
    name = "lca"
    verbose_name = "Lifecycle assessment"

    def ready(self) -> None:
        from lca import signals  # noqa: F401 (connects the receivers)
