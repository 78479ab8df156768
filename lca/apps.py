from django.apps import AppConfig


class LcaConfig(AppConfig):
    name = "lca"
    verbose_name = "Lifecycle assessment"
