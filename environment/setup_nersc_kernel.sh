#!/usr/bin/env bash
# Create the Jupyter kernel "desc-python-elasticc-tutorial" at NERSC: DESC's desc-python environment
# plus this package (and polars) installed into a private user base under $SCRATCH.
#
# What it does, in order (each step is printed before it runs):
#   1. finds DESC's set-up script and the desc-python kernelspec (run DESC's kernel set-up first if
#      you have never used the DESC kernels:
#      source /global/common/software/lsst/common/miniconda/kernels/setup.sh);
#   2. inside desc-python (by sourcing DESC's setup_current_python.sh with DESCPYTHONUSERBASE set,
#      the documented DESC way to add packages), runs
#      python -m pip install --user --no-build-isolation <this package> polars
#      so the packages land in the user base, not in the shared environment;
#   3. checks that desc-python then imports elasticc_tutorial and polars;
#   4. copies the desc-python kernelspec to desc-python-elasticc-tutorial, sets its display name and
#      adds DESCPYTHONUSERBASE/PYTHONUSERBASE to its env (DESC's kernel wrapper turns
#      DESCPYTHONUSERBASE into PYTHONUSERBASE + a PYTHONPATH entry), validates kernel.json and moves
#      it into place.
# Running it again is safe: pip re-checks the install, an identical kernel is left alone, and a
# different existing kernel is only replaced with --force (after a backup in kernels-backup/).
#
# Stand-ins for tests: ELASTICC_TUTORIAL_NERSC_ROOT replaces "/" in the NERSC paths; JUPYTER_DATA_DIR
# is honoured as Jupyter does.
set -euo pipefail

usage() {
    cat <<EOF
usage: $(basename "$0") [--dry-run] [--force] [--userbase DIR] [--name NAME] [--display-name TEXT]
                        [--from KERNEL] [--package SPEC] [--sample-dir DIR]

  --dry-run           print what would be done, change nothing
  --force             replace an existing, different kernel NAME (backed up first)
  --userbase DIR      where pip --user installs go (default \$SCRATCH/elasticc-tutorial/desc-python-userbase)
  --name NAME         kernel name (default desc-python-elasticc-tutorial)
  --display-name TEXT name shown in JupyterLab (default "desc-python (elasticc-tutorial)")
  --from KERNEL       kernel to copy (default desc-python)
  --package SPEC      what to pip install (default: this checkout, $(cd "$(dirname "$0")/.." && pwd))
  --sample-dir DIR    offline sample / local TOM directory for the kernel
                      (default \$SCRATCH/elasticc-tutorial/sample)
EOF
}

say() { printf '\n==> %s\n' "$*"; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

DRY_RUN=false
FORCE=false
NAME=desc-python-elasticc-tutorial
DISPLAY_NAME="desc-python (elasticc-tutorial)"
SOURCE_KERNEL=desc-python
PACKAGE="$(cd "$(dirname "$0")/.." && pwd)"
USERBASE=""
SAMPLE_DIR=""

while [ $# -gt 0 ]; do
    case "$1" in
    --dry-run) DRY_RUN=true ;;
    --force) FORCE=true ;;
    --userbase) USERBASE="${2:?--userbase needs a directory}"; shift ;;
    --name) NAME="${2:?--name needs a value}"; shift ;;
    --display-name) DISPLAY_NAME="${2:?--display-name needs a value}"; shift ;;
    --from) SOURCE_KERNEL="${2:?--from needs a kernel name}"; shift ;;
    --package) PACKAGE="${2:?--package needs a value}"; shift ;;
    --sample-dir) SAMPLE_DIR="${2:?--sample-dir needs a directory}"; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
    esac
    shift
done

case "$NAME" in
*[!A-Za-z0-9._-]* | "") die "invalid kernel name '$NAME': use letters, digits, '.', '_' and '-'" ;;
esac

# Print a command (shell-quoted), then run it unless --dry-run.
run() {
    printf '+'
    printf ' %q' "$@"
    printf '\n'
    if ! "$DRY_RUN"; then
        "$@"
    fi
}

ROOT="${ELASTICC_TUTORIAL_NERSC_ROOT:-}"
DESC_INST_DIR="$ROOT/global/common/software/lsst/common/miniconda"
DESC_SETUP="$DESC_INST_DIR/setup_current_python.sh"
DATA_DIR="${JUPYTER_DATA_DIR:-$HOME/.local/share/jupyter}"
KERNELS_DIR="$DATA_DIR/kernels"
DEST="$KERNELS_DIR/$NAME"

say "Step 1: checking that this is NERSC with DESC's desc-python"
if [ -z "${NERSC_HOST:-}" ]; then
    die "NERSC_HOST is not set: this script is for NERSC. Elsewhere use: elasticc-tutorial kernel install"
fi
[ -f "$DESC_SETUP" ] || die "DESC's set-up script $DESC_SETUP is missing (are you in the lsst group?)"
echo "DESC set-up script: $DESC_SETUP"
SOURCE_DIR=""
for cand in "$KERNELS_DIR/$SOURCE_KERNEL" "$DESC_INST_DIR/kernels/$SOURCE_KERNEL"; do
    if [ -f "$cand/kernel.json" ]; then
        SOURCE_DIR="$cand"
        break
    fi
done
[ -n "$SOURCE_DIR" ] || die "no '$SOURCE_KERNEL' kernelspec in $KERNELS_DIR or $DESC_INST_DIR/kernels; \
run: source /global/common/software/lsst/common/miniconda/kernels/setup.sh"
echo "kernel to copy: $SOURCE_DIR"
if [ -z "$USERBASE" ]; then
    [ -n "${SCRATCH:-}" ] || die "SCRATCH is not set; give --userbase DIR"
    USERBASE="$SCRATCH/elasticc-tutorial/desc-python-userbase"
fi
if [ -z "$SAMPLE_DIR" ]; then
    SAMPLE_DIR="${SCRATCH:-$HOME}/elasticc-tutorial/sample"
fi
# The kernel starts in another directory: store absolute paths.
case "$USERBASE" in /*) ;; *) USERBASE="$PWD/$USERBASE" ;; esac
case "$SAMPLE_DIR" in /*) ;; *) SAMPLE_DIR="$PWD/$SAMPLE_DIR" ;; esac
echo "user base (pip --user target): $USERBASE"
echo "note: \$SCRATCH is purged of files unused for weeks; re-run this script if imports start failing."

# Run a command inside desc-python with our user base, as DESC documents for adding packages.
# First argument: "pip" (user site enabled, for pip --user) or "kernel" (exactly what the kernel gets).
in_desc_python() {
    local mode="$1"
    shift
    (
        export DESCPYTHONUSERBASE="$USERBASE"
        # DESC's script is not written for 'set -u'/'set -e' (it tests unset variables, calls module).
        set +eu +o pipefail
        # One empty argument, as DESC's own kernel wrappers pass: its getopts must not see ours.
        # shellcheck source=/dev/null
        source "$DESC_SETUP" "" >&2
        set -euo pipefail
        if [ "$mode" = pip ]; then
            # DESC sets PYTHONNOUSERSITE, which would hide the user base from pip --user.
            unset PYTHONNOUSERSITE
            export PYTHONUSERBASE="$USERBASE"
        fi
        "$@"
    )
}

say "Step 2: installing $PACKAGE and polars into $USERBASE (inside $SOURCE_KERNEL)"
# Not editable (-e): the kernel puts the user site on PYTHONPATH, which ignores the .pth files that
# editable installs rely on.
run mkdir -p "$USERBASE"
run in_desc_python pip python -m pip install --user --no-build-isolation "$PACKAGE" polars

say "Step 3: checking that $SOURCE_KERNEL, set up as its kernel is, imports elasticc_tutorial and polars"
CHECK='import elasticc_tutorial, polars; print("elasticc_tutorial", elasticc_tutorial.__version__, "from", elasticc_tutorial.__file__); print("polars", polars.__version__)'
if ! run in_desc_python kernel python -c "$CHECK"; then
    die "desc-python does not see the packages in $USERBASE (DESC's set-up script should add \
\$DESCPYTHONUSERBASE/lib/pythonX.Y/site-packages to PYTHONPATH); see the messages above"
fi

say "Step 4: writing kernel '$NAME' (\"$DISPLAY_NAME\") in $KERNELS_DIR"
run mkdir -p "$KERNELS_DIR"
BUILD="$(mktemp -d "${TMPDIR:-/tmp}/$NAME.XXXXXX")"
trap 'rm -rf "$BUILD"' EXIT
cp -R "$SOURCE_DIR/." "$BUILD/"
# Edit kernel.json with the system python3 (no jq needed): new display name, env entries added.
python3 - "$BUILD/kernel.json" "$DISPLAY_NAME" "$USERBASE" "$SAMPLE_DIR" <<'PYEOF'
import json, sys
path, display_name, userbase, sample = sys.argv[1:]
with open(path) as f:
    spec = json.load(f)
spec["display_name"] = display_name
env = dict(spec.get("env") or {})
env.update({
    "DESCPYTHONUSERBASE": userbase,  # DESC's wrapper adds <userbase>/lib/pythonX.Y/site-packages
    "PYTHONUSERBASE": userbase,
    "ELASTICC_TUTORIAL_SAMPLE": sample,
})
spec["env"] = env
with open(path + ".tmp", "w") as f:
    json.dump(spec, f, indent=1)
    f.write("\n")
PYEOF
mv "$BUILD/kernel.json.tmp" "$BUILD/kernel.json"

# Validate: well-formed JSON, the fields Jupyter needs, and a launcher that exists.
python3 -m json.tool "$BUILD/kernel.json" >/dev/null || die "the new kernel.json is not valid JSON"
python3 - "$BUILD/kernel.json" <<'PYEOF' || die "the new kernel.json is not a usable kernelspec"
import json, os, sys
spec = json.load(open(sys.argv[1]))
argv = spec.get("argv")
assert isinstance(argv, list) and argv, "argv must be a non-empty list"
assert "{connection_file}" in argv, "argv must contain {connection_file}"
assert spec.get("display_name"), "display_name is empty"
launcher = argv[0]
if "{resource_dir}" not in launcher and os.sep in launcher and not os.access(launcher, os.X_OK):
    print(f"warning: kernel launcher {launcher} is not executable here", file=sys.stderr)
PYEOF
echo "kernel.json:"
cat "$BUILD/kernel.json"

if [ -e "$DEST" ]; then
    if python3 - "$DEST/kernel.json" "$BUILD/kernel.json" <<'PYEOF'; then
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
sys.exit(0 if a == b else 1)
PYEOF
        say "Kernel '$NAME' is already installed and up to date in $DEST; nothing to change."
        exit 0
    fi
    if ! "$FORCE"; then
        die "a different kernel '$NAME' already exists in $DEST; re-run with --force to replace it \
(the old one is backed up to $DATA_DIR/kernels-backup/)"
    fi
    BACKUP="$DATA_DIR/kernels-backup/$NAME.$(date -u +%Y%m%dT%H%M%S)"
    say "Backing up the existing kernel to $BACKUP"
    run mkdir -p "$DATA_DIR/kernels-backup"
    run mv "$DEST" "$BACKUP"
fi
# Copy next to the destination, then rename: Jupyter never sees a half-written kernel.
STAGE="$KERNELS_DIR/.$NAME.new"
run rm -rf "$STAGE"
run cp -R "$BUILD" "$STAGE"
run mv "$STAGE" "$DEST"

say "Done."
if "$DRY_RUN"; then
    echo "(dry run: nothing was changed)"
else
    echo "Kernel '$NAME' installed in $DEST."
fi
echo "In JupyterLab at https://jupyter.nersc.gov choose the kernel \"$DISPLAY_NAME\"."
echo "Check the whole set-up with: elasticc-tutorial doctor   (in a terminal: $USERBASE/bin/elasticc-tutorial doctor)"
