"""Django settings of the local TOM, built at start-up (``settings.configure``), not read from a file.

The secret key is random per start, so restarting the server logs every client out (our client logs
in again by itself). Only 127.0.0.1 is served; ``DEBUG`` is off so errors never dump tracebacks.

Two connections to the one database: ``default`` (search_path = :data:`LOCAL_SCHEMA` only) holds
everything the local TOM itself creates (Django's auth, session, content-type and migration tables,
the query queue); ``tom`` (the server's own search_path) reads and writes the ``elasticc2_*`` tables.
So a database made by desc-tom's own Django app, whose ``public`` already has ``auth_user``,
``django_migrations`` and ``db_queryqueue``, is served as it is and its ``public`` is never touched.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

HERE = Path(__file__).resolve().parent
#: The PostgreSQL schema holding everything the local TOM itself creates (users, sessions,
#: migrations, the query queue), so a database it is given keeps ``public`` as it was.
LOCAL_SCHEMA = "elasticc_tutorial_local"
#: The connection alias for the ``elasticc2_*`` tables (the database's own search_path).
TOM_DB = "tom"


def django_database(conninfo: str, search_path: str | None = None) -> dict[str, Any]:
    """Django's ``DATABASES`` entry for a libpq URL or conninfo string; ``search_path`` (if given)
    replaces the server's for this connection."""
    params = conninfo_to_dict(conninfo)
    options = {k: v for k, v in params.items() if k in {"sslmode", "sslrootcert"}}
    if search_path:
        options["options"] = f"-c search_path={search_path}"
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": params.pop("dbname", "tom_desc"),
        "USER": params.pop("user", ""),
        "PASSWORD": params.pop("password", ""),
        "HOST": params.pop("host", ""),
        "PORT": params.pop("port", ""),
        "OPTIONS": options,
        # Keep-alive clients are served by one thread; reuse its connection for a minute.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": False,  # saves a round trip per request; a lost connection fails once
    }


def build_settings(conninfo: str, *, debug_log: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``django.conf.settings.configure``."""
    return {
        "DEBUG": False,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": ["127.0.0.1", "localhost"],
        "ROOT_URLCONF": "elasticc_tutorial.localtom.urls",
        "INSTALLED_APPS": [
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.postgres",
            "rest_framework",
            "rest_framework.authtoken",
            "elasticc_tutorial.localtom",
        ],
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "elasticc_tutorial.localtom.views_common.SlashMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        "TEMPLATES": [
            {
                "BACKEND": "django.template.backends.django.DjangoTemplates",
                "DIRS": [],
                "APP_DIRS": True,
                "OPTIONS": {
                    "context_processors": [
                        "django.template.context_processors.request",
                        "django.contrib.auth.context_processors.auth",
                    ]
                },
            }
        ],
        # The local TOM's own tables (auth, sessions, migrations, query queue) live in a schema of
        # their own, so a real TOM database's public tables are served as they are, never touched;
        # the elasticc2_* tables are read and written through "tom" (the server's search_path).
        "DATABASES": {
            "default": django_database(conninfo, LOCAL_SCHEMA),
            TOM_DB: django_database(conninfo),
        },
        "DATABASE_ROUTERS": ["elasticc_tutorial.localtom.models.TomRouter"],
        "REST_FRAMEWORK": {
            # the real TOM's DRF settings: Token, Basic, Session; logged-in users only
            "DEFAULT_AUTHENTICATION_CLASSES": [
                "rest_framework.authentication.TokenAuthentication",
                "rest_framework.authentication.BasicAuthentication",
                "rest_framework.authentication.SessionAuthentication",
            ],
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
            "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
            "PAGE_SIZE": 100,
            "EXCEPTION_HANDLER": "elasticc_tutorial.localtom.views_elasticc2.drf.exception_handler",
        },
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "LOGIN_URL": "/accounts/login/",
        "LOGIN_REDIRECT_URL": "/",
        "LOGOUT_REDIRECT_URL": "/",
        "CSRF_FAILURE_VIEW": "elasticc_tutorial.localtom.views_common.csrf_failure",
        "SESSION_ENGINE": "django.contrib.sessions.backends.cached_db",
        "CACHES": {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        # The real TOM allows 500 MB bodies; a local tutorial server needs far less.
        "DATA_UPLOAD_MAX_MEMORY_SIZE": 50 * 1024 * 1024,
        "LOGGING": {
            "version": 1,
            "disable_existing_loggers": False,
            "loggers": {
                "django.server": {"level": "INFO" if debug_log else "WARNING"},
                "django.request": {"level": "ERROR"},
            },
        },
    }
