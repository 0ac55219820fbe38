"""Jupyter kernels for the tutorial: install one for this environment, or clone an existing one.

Two ways to get a kernel that sees this package:

* :func:`install_current` writes a kernelspec for the running Python (ipykernel's kernelspec machinery).
  By default its ``argv`` goes through a small ``kernel-helper.sh`` that *activates* the environment
  (PATH, ``CONDA_PREFIX``/``VIRTUAL_ENV``, conda's ``activate.d`` scripts) before ``exec``-ing the kernel,
  the NERSC-documented pattern: a bare interpreter path does not give ``!`` shell cells the env's tools.
* :func:`clone` copies an existing kernelspec (e.g. DESC's ``desc-python`` at NERSC) under a new name,
  with a new display name and extra ``env`` entries (e.g. ``DESCPYTHONUSERBASE``, which DESC's set-up
  script turns into ``PYTHONUSERBASE`` and a ``PYTHONPATH`` entry).

Kernelspecs are installed per user (``jupyter_data_dir()/kernels``, which honours ``JUPYTER_DATA_DIR``)
or into a prefix (``<prefix>/share/jupyter/kernels``). An existing kernel of the same name is never
replaced without ``force=True``; with it, the old one is moved to ``<data dir>/kernels-backup/``
(outside ``kernels/`` so Jupyter does not list it).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from elasticc_tutorial.errors import KernelError

__all__ = [
    "DEFAULT_NAME",
    "HELPER_NAME",
    "KernelError",
    "KernelInfo",
    "add_cli",
    "clone",
    "get_kernel",
    "install_current",
    "kernels_dir",
    "list_kernels",
    "remove",
]

DEFAULT_NAME = "elasticc-tutorial"
HELPER_NAME = "kernel-helper.sh"


@dataclass(frozen=True)
class KernelInfo:
    """One installed kernelspec."""

    name: str
    display_name: str
    language: str
    resource_dir: Path
    argv: tuple[str, ...]
    env: dict[str, str]


def _jupyter(module: str):
    """Import a Jupyter module (the ``book`` extra), or say what to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise KernelError(
            f"managing Jupyter kernels needs {(exc.name or module).split('.')[0]}, which is not installed: "
            'pip install "elasticc-tutorial[book]"'
        ) from None


def _manager():
    return _jupyter("jupyter_client.kernelspec").KernelSpecManager()


def kernels_dir(*, user: bool = True, prefix: str | os.PathLike[str] | None = None) -> Path:
    """Directory kernelspecs are installed into: per user (honours ``JUPYTER_DATA_DIR``) or a prefix."""
    if prefix is not None:
        return Path(prefix) / "share" / "jupyter" / "kernels"
    if not user:
        raise KernelError("give user=True or a prefix; system-wide installs are not supported")
    return Path(_jupyter("jupyter_core.paths").jupyter_data_dir()) / "kernels"


def list_kernels() -> list[KernelInfo]:
    """Every kernelspec Jupyter can see, sorted by name."""
    out = []
    for name, info in sorted(_manager().get_all_specs().items()):
        spec = info["spec"]
        out.append(
            KernelInfo(
                name=name,
                display_name=spec.get("display_name", name),
                language=spec.get("language", ""),
                resource_dir=Path(info["resource_dir"]),
                argv=tuple(spec.get("argv", ())),
                env=dict(spec.get("env") or {}),
            )
        )
    return out


def get_kernel(name: str) -> KernelInfo:
    """The kernelspec called ``name``; :class:`KernelError` listing the known ones if absent."""
    kernels = {k.name: k for k in list_kernels()}
    if name not in kernels:
        raise KernelError(
            f"no Jupyter kernel named {name!r}; installed: {', '.join(sorted(kernels)) or 'none'}"
        )
    return kernels[name]


def _check_name(name: str) -> None:
    # The rule jupyter_client applies to kernelspec directory names.
    if not re.fullmatch(r"[a-z0-9._-]+", name, re.IGNORECASE):
        raise KernelError(
            f"invalid kernel name {name!r}: use letters, digits, '.', '_' and '-' only"
        )


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n")
    tmp.replace(path)


def _refuse_clobber(dest: Path) -> None:
    raise KernelError(
        f"a kernel named {dest.name!r} already exists in {dest.parent}; "
        "use force=True (--force) to replace it (the old one is backed up)"
    )


def _put_in_place(built: Path, dest: Path, *, force: bool) -> Path | None:
    """Move the finished kernelspec ``built`` to ``dest``; returns the backup of an old one, if any."""
    backup = None
    if dest.exists():
        if not force:
            _refuse_clobber(dest)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        backup = dest.parent.parent / "kernels-backup" / f"{dest.name}.{stamp}"
        backup.parent.mkdir(parents=True, exist_ok=True)
        dest.rename(backup)
    built.rename(dest)
    return backup


def _validate(resource_dir: Path) -> None:
    """Load the kernelspec back with jupyter_client, as Jupyter will."""
    KernelSpec = _jupyter("jupyter_client.kernelspec").KernelSpec

    try:
        spec = KernelSpec.from_resource_dir(str(resource_dir))
    except (OSError, ValueError) as exc:
        raise KernelError(f"{resource_dir}/kernel.json is not a valid kernelspec: {exc}") from exc
    if not spec.argv or "{connection_file}" not in spec.argv:
        raise KernelError(
            f"{resource_dir}/kernel.json argv lacks '{{connection_file}}': {spec.argv}"
        )


def _helper_script(prefix: Path) -> str:
    q = shlex.quote(str(prefix))
    return f"""#!/usr/bin/env bash
# Written by `elasticc-tutorial kernel install`: activate the environment {prefix}
# (not just its python: its other programs matter too, e.g. in ! shell cells), then run the kernel
# command given as arguments.
ENV_PREFIX={q}
export PATH="$ENV_PREFIX/bin:$PATH"
if [ -d "$ENV_PREFIX/conda-meta" ]; then
    export CONDA_PREFIX="$ENV_PREFIX"
    for script in "$ENV_PREFIX"/etc/conda/activate.d/*.sh; do
        # shellcheck disable=SC1090
        [ -e "$script" ] && . "$script"
    done
else
    export VIRTUAL_ENV="$ENV_PREFIX"
fi
exec "$@"
"""


def install_current(
    name: str = DEFAULT_NAME,
    display_name: str | None = None,
    env: dict[str, str] | None = None,
    *,
    user: bool = True,
    prefix: str | os.PathLike[str] | None = None,
    force: bool = False,
    activate: bool = True,
) -> Path:
    """Install a kernelspec running this Python (``sys.executable``); returns its directory.

    ``activate`` routes the kernel through ``kernel-helper.sh`` (POSIX only) so the environment is
    activated first. ``env`` entries are written to kernel.json's ``env``.
    """
    write_kernel_spec = _jupyter("ipykernel.kernelspec").write_kernel_spec

    dest = _destination(name, user=user, prefix=prefix, force=force)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=dest.parent) as tmp:
        built = Path(tmp) / name
        overrides: dict[str, object] = {"display_name": display_name or f"Python 3 ({name})"}
        if env:
            overrides["env"] = dict(env)
        write_kernel_spec(str(built), overrides=overrides)
        if activate and os.name == "posix":
            helper = built / HELPER_NAME
            helper.write_text(_helper_script(Path(sys.prefix)))
            helper.chmod(0o755)
            spec = json.loads((built / "kernel.json").read_text())
            spec["argv"] = ["{resource_dir}/" + HELPER_NAME, *spec["argv"]]
            _write_json(built / "kernel.json", spec)
        _validate(built)
        _put_in_place(built, dest, force=force)
    return dest


def _destination(
    name: str, *, user: bool, prefix: str | os.PathLike[str] | None, force: bool
) -> Path:
    """Where kernel ``name`` goes (its parent created); refuses an existing one without ``force``."""
    _check_name(name)
    dest_parent = kernels_dir(user=user, prefix=prefix)
    dest_parent.mkdir(parents=True, exist_ok=True)
    dest = dest_parent / name
    if dest.exists() and not force:
        _refuse_clobber(dest)
    return dest


def clone(
    source: str,
    name: str | None = None,
    display_name: str | None = None,
    env: dict[str, str] | None = None,
    *,
    user: bool = True,
    prefix: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> Path:
    """Copy kernelspec ``source`` to ``name`` with a new display name and added ``env``; returns its dir.

    The copy keeps ``source``'s ``argv`` (e.g. DESC's wrapper that activates desc-python), its logos and
    its existing ``env`` entries; ``env`` entries are added on top.
    """
    src = get_kernel(source)
    name = name or f"{source}-{DEFAULT_NAME}"
    if name == source and not force:
        raise KernelError(f"cloning {source!r} onto itself needs a different name")
    dest = _destination(name, user=user, prefix=prefix, force=force)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=dest.parent) as tmp:
        built = Path(tmp) / name
        shutil.copytree(src.resource_dir, built, symlinks=True)
        spec = json.loads((built / "kernel.json").read_text())
        spec["display_name"] = display_name or f"{src.display_name} ({DEFAULT_NAME})"
        spec["env"] = {**(spec.get("env") or {}), **(env or {})}
        _write_json(built / "kernel.json", spec)
        _validate(built)
        _put_in_place(built, dest, force=force)
    return dest


def remove(name: str) -> Path:
    """Remove the kernelspec ``name``; returns the directory it was in."""
    get_kernel(name)  # clear error if absent
    try:
        return Path(_manager().remove_kernel_spec(name))
    except OSError as exc:
        raise KernelError(f"cannot remove kernel {name!r}: {exc}") from exc


# ---------------------------------------------------------------------------------------------------
# CLI: elasticc-tutorial kernel install|list|remove


def _parse_env(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise KernelError(f"--env expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def add_cli(subparsers) -> None:
    """Register ``elasticc-tutorial kernel install|list|remove``."""
    p = subparsers.add_parser(
        "kernel",
        help="install, list or remove Jupyter kernels for the tutorial",
        description="Manage Jupyter kernels for the tutorial (honours JUPYTER_DATA_DIR).",
    )
    sub = p.add_subparsers(dest="kernel_command", metavar="ACTION", required=True)

    pi = sub.add_parser(
        "install",
        help="install a kernel for this Python environment, or clone an existing kernel",
        description=(
            "Without --from: a kernel running this Python, activating its environment first. "
            "With --from NAME: a copy of kernel NAME (e.g. desc-python) with a new name and display "
            "name and the given --env entries."
        ),
    )
    pi.add_argument(
        "--name", help=f"kernel name (default {DEFAULT_NAME}, or <from>-{DEFAULT_NAME})"
    )
    pi.add_argument("--display-name", help="name shown in the Jupyter launcher")
    pi.add_argument("--from", dest="source", metavar="KERNEL", help="clone this existing kernel")
    pi.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="add to the kernel's env"
    )
    where = pi.add_mutually_exclusive_group()
    where.add_argument("--sys-prefix", action="store_true", help=f"install into {sys.prefix}")
    where.add_argument("--prefix", metavar="DIR", help="install into DIR/share/jupyter/kernels")
    pi.add_argument("--force", action="store_true", help="replace (and back up) an existing kernel")
    pi.add_argument(
        "--no-activate", action="store_true", help="run python directly, without kernel-helper.sh"
    )
    pi.set_defaults(func=_cli_install)

    pl = sub.add_parser("list", help="list the kernels Jupyter can see")
    pl.add_argument("--json", action="store_true", help="print JSON")
    pl.set_defaults(func=_cli_list)

    pr = sub.add_parser("remove", help="remove a kernel")
    pr.add_argument("name")
    pr.set_defaults(func=_cli_remove)


def _cli_install(args) -> int:
    env = _parse_env(args.env)
    prefix = sys.prefix if args.sys_prefix else args.prefix
    if args.source:
        path = clone(
            args.source, args.name, args.display_name, env, prefix=prefix, force=args.force
        )
    else:
        path = install_current(
            args.name or DEFAULT_NAME,
            args.display_name,
            env,
            prefix=prefix,
            force=args.force,
            activate=not args.no_activate,
        )
    spec = json.loads((path / "kernel.json").read_text())
    print(f"installed kernel {path.name!r} ({spec['display_name']}) in {path}")
    return 0


def _cli_list(args) -> int:
    kernels = list_kernels()
    if args.json:
        rows = [
            {
                "name": k.name,
                "display_name": k.display_name,
                "resource_dir": str(k.resource_dir),
                "argv": list(k.argv),
                "env": k.env,
            }
            for k in kernels
        ]
        print(json.dumps(rows, indent=2))
        return 0
    width = max((len(k.name) for k in kernels), default=4)
    for k in kernels:
        print(f"{k.name.ljust(width)}  {k.display_name}  [{k.resource_dir}]")
    return 0


def _cli_remove(args) -> int:
    path = remove(args.name)
    print(f"removed kernel {args.name!r} from {path}")
    return 0
