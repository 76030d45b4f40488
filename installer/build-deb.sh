#!/usr/bin/env bash
# Builds the Debian package of the Key Custodian Workstation: `make deb`, or
#   installer/build-deb.sh [--out DIR] [--compression xz|zstd|gzip|none]
#
# The package carries the workstation's own Python environment (a virtualenv on Debian's
# /usr/bin/python3.11, in /opt/key-custodian-workstation) with every Python dependency
# built here, so installing it needs neither a compiler nor the network: only the Debian
# packages it declares (Depends), which apt takes from the archive or a local mirror.
# See docs/administrator-guide.md and installer/README.md.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
project="$(cd "$here/.." && pwd)"
out="$project/dist"
compression="xz"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --compression) compression="$2"; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "build-deb.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

case "$compression" in
  xz|zstd|gzip|none) ;;
  *) echo "build-deb.sh: --compression must be xz, zstd, gzip or none (not $compression)" >&2; exit 2 ;;
esac

name="key-custodian-workstation"
prefix="/opt/$name"
python="/usr/bin/python3.11"   # Debian's: the package depends on python3.11
[ -x "$python" ] || { echo "build-deb.sh: $python not found (apt-get install python3.11)" >&2; exit 1; }
"$python" -c "import ensurepip, venv" 2>/dev/null \
  || { echo "build-deb.sh: the venv module is missing (apt-get install python3.11-venv)" >&2; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps; do
  command -v "$tool" >/dev/null || { echo "build-deb.sh: $tool not found (apt-get install dpkg-dev)" >&2; exit 1; }
done

version="$("$python" - "$project/pyproject.toml" <<'PY'
import sys, tomllib
print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])
PY
)"
arch="$(dpkg --print-architecture)"
work="$(mktemp -d "${TMPDIR:-/tmp}/kcw-deb.XXXXXX")"
trap '[ -n "${KCW_KEEP_BUILD:-}" ] || rm -rf "$work"' EXIT
root="$work/root"
stage="$root$prefix"
wheels="$work/wheels"

echo "== building $name $version ($arch) in $work"

# 1. Wheels: the workstation's own (from this checkout) and every dependency; pyscard is
#    compiled here against libpcsclite (swig, gcc), the others come as binary wheels.
"$python" -m venv "$work/builder"
"$work/builder/bin/pip" install --quiet --upgrade pip wheel
"$work/builder/bin/pip" wheel --quiet --wheel-dir "$wheels" "$project"

# 2. The environment, made at its final path's image under the package root.
"$python" -m venv --without-pip "$stage"
"$work/builder/bin/pip" --python "$stage/bin/python" install --quiet --no-index \
  --no-compile --find-links "$wheels" "$name"

# A venv is only tied to its path by its scripts' first lines and pyvenv.cfg: point them at
# the installed path. Activation scripts are for shells; the package has no use for them.
rm -f "$stage"/bin/activate* "$stage"/bin/Activate.ps1
for script in "$stage"/bin/*; do
  [ -f "$script" ] && [ ! -L "$script" ] || continue
  if head -c 2 "$script" | grep -q '#!'; then
    sed -i "1s|^#!.*python.*|#!$prefix/bin/python|" "$script"
  fi
done
sed -i "s|$stage|$prefix|g" "$stage/pyvenv.cfg"
find "$stage" -name direct_url.json -delete   # names the build directory, nothing else
# Byte-code compiled for the installed paths, so nothing is written under /opt at run time.
"$stage/bin/python" -m compileall -q -j 0 -o 0 -x '\.tmpl\.py$' -s "$root" -p / "$stage/lib" >/dev/null
if grep -rIl --exclude=RECORD "$work" "$stage" >/dev/null; then
  echo "build-deb.sh: the build directory is still named in:" >&2
  grep -rIl --exclude=RECORD "$work" "$stage" >&2
  exit 1
fi

# 3. Commands, desktop entry, icon, the key agent's systemd unit, the kiosk session.
mkdir -p "$root/usr/bin"
for cmd in workstation workstation-cli workstation-agent workstation-audit-verify; do
  [ -x "$stage/bin/$cmd" ] || { echo "build-deb.sh: $cmd missing from the environment" >&2; exit 1; }
  ln -s "$prefix/bin/$cmd" "$root/usr/bin/$cmd"
done
install -D -m 0644 "$project/resources/$name.desktop" "$root/usr/share/applications/$name.desktop"
install -D -m 0644 "$project/resources/$name.svg" \
  "$root/usr/share/icons/hicolor/scalable/apps/$name.svg"
install -D -m 0644 "$here/workstation-agent.service" \
  "$root/lib/systemd/system/workstation-agent.service"
kiosk="$here/kiosk"
if [ -f "$kiosk/kiosk-session" ]; then
  install -D -m 0755 "$kiosk/kiosk-session" "$root/usr/libexec/$name/kiosk-session"
  install -D -m 0644 "$kiosk/$name-kiosk.desktop" "$root/usr/share/xsessions/$name-kiosk.desktop"
  install -D -m 0755 "$kiosk/kcw-kiosk-setup" "$root/usr/sbin/kcw-kiosk-setup"
  if [ -d "$kiosk/examples" ]; then
    mkdir -p "$root/usr/share/doc/$name/kiosk"
    cp -r "$kiosk/examples/." "$root/usr/share/doc/$name/kiosk/"
  fi
fi
install -D -m 0644 "$project/README.md" "$root/usr/share/doc/$name/README.md"
for doc in operator-guide administrator-guide auditor-guide kiosk agent backup postgresql; do
  if [ -f "$project/docs/$doc.md" ]; then
    install -D -m 0644 "$project/docs/$doc.md" "$root/usr/share/doc/$name/$doc.md"
  fi
done
install -D -m 0644 "$here/copyright" "$root/usr/share/doc/$name/copyright"

# 4. Dependencies: the fixed list below, and the shared libraries the compiled parts of
#    the environment link to, as dpkg-shlibdeps finds them (libraries the wheels carry
#    themselves, such as Qt's, are told apart with -l).
elf_files=()
while IFS= read -r -d '' f; do elf_files+=("$f"); done < <(
  "$python" "$here/elf_needed.py" "$stage/lib/python3.11/site-packages")
bundled=()
while IFS= read -r d; do bundled+=("-l$d"); done < <(
  find "$stage/lib" -type f -name '*.so*' -printf '%h\n' | sort -u)
mkdir -p "$work/shlib/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$name" "$name" > "$work/shlib/debian/control"
shlib_depends="$(cd "$work/shlib" && dpkg-shlibdeps -O --ignore-missing-info "${bundled[@]}" \
  "${elf_files[@]}" 2>"$work/shlibdeps.log" | sed -n 's/^shlibs:Depends=//p')" || {
  cat "$work/shlibdeps.log" >&2; exit 1; }
fixed="python3.11, pcscd, libpcsclite1, softhsm2, adduser"
installed_kb="$(du -sk "$root" | cut -f1)"
mkdir -p "$root/DEBIAN"
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$installed_kb|" \
    -e "s|@DEPENDS@|$fixed, $shlib_depends|" "$here/control.in" > "$root/DEBIAN/control"
for script in postinst prerm postrm; do
  install -m 0755 "$here/$script" "$root/DEBIAN/$script"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z \
   | xargs -0 md5sum) > "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/${name}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"$compression" --build "$root" "$deb" >/dev/null
echo "== $deb ($(du -h "$deb" | cut -f1), $((installed_kb / 1024)) MB installed)"
echo "   Depends: $(sed -n 's/^Depends: //p' "$root/DEBIAN/control")"
