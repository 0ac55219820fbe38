"""Django settings of the local TOM, built at start-up (``settings.configure``), not read from a file.

The secret key is random per start, so restarting the server logs every client out (our client logs
in again by itself). Only 127.0.0.1 is served; ``DEBUG`` is off so errors never dump tracebacks.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

HERE = Path(__file__).resolve().parent


def django_database(conninfo: str) -> dict[str, Any]:
    """Django's ``DATABASES['default']`` for a libpq URL or conninfo string."""
    params = conninfo_to_dict(conninfo)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": params.pop("dbname", "tom_desc"),
        "USER": params.pop("user", ""),
        "PASSWORD": params.pop("password", ""),
        "HOST": params.pop("host", ""),
        "PORT": params.pop("port", ""),
        "OPTIONS": {k: v for k, v in params.items() if k in {"sslmode", "sslrootcert"}},
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
        "DATABASES": {"default": django_database(conninfo)},
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
