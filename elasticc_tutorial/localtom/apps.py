"""Django application config of the local TOM."""

from django.apps import AppConfig
from django.db.backends.signals import connection_created

from elasticc_tutorial.localtom.conf import LOCAL_SCHEMA

_CREATE_SCHEMA = f"""DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '{LOCAL_SCHEMA}') THEN
        CREATE SCHEMA {LOCAL_SCHEMA};
    END IF;
END $$"""


def _ensure_local_schema(sender, connection, **kwargs) -> None:
    """The ``default`` connection's search_path is the local schema alone: create it before Django
    looks for its migration table (a missing schema would make PostgreSQL fall back to nothing)."""
    if connection.alias == "default":
        with connection.cursor() as cur:
            cur.execute(_CREATE_SCHEMA)


class LocalTomConfig(AppConfig):
    name = "elasticc_tutorial.localtom"
    label = "localtom"
    verbose_name = "ELAsTiCC2 tutorial local TOM"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        connection_created.connect(_ensure_local_schema, dispatch_uid="localtom-local-schema")
