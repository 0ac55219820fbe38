"""Django application config of the local TOM."""

from django.apps import AppConfig


class LocalTomConfig(AppConfig):
    name = "elasticc_tutorial.localtom"
    label = "localtom"
    verbose_name = "ELAsTiCC2 tutorial local TOM"
    default_auto_field = "django.db.models.BigAutoField"
