#!/usr/bin/env bash
# Installs the Debian packages the workstation and its tests need, when any is missing.
#   softhsm2                 embedded default HSM (PKCS#11 module libsofthsm2.so)
#   pcscd, vsmartcard-vpcd   PC/SC daemon and the virtual reader driver for the virtual PIV cards
#   libpcsclite-dev, swig    to build pyscard
#   python3-venv, gcc        the virtualenv and C extensions
#   xvfb, poppler-utils      screenshots and PDF rendering in the tests
#   opensc                   pkcs11-tool / opensc-tool for cross-checking by hand
#   postgresql               the shared repository (several workstations); the tests start
#                            their own cluster on loopback with its initdb and pg_ctl
#   dosfstools               mkfs.vfat: the test of writing to a FAT (USB stick) filesystem
#   python3.11-venv, dpkg-dev, binutils
#                            `make deb`: the package's environment on Debian's Python 3.11,
#                            dpkg-deb and dpkg-shlibdeps (which reads ELF files with readelf)
#   debootstrap, iproute2    the package tests: a fresh Debian root to install it into, a
#                            network namespace of its own for its virtual readers
set -euo pipefail
packages=(softhsm2 pcscd vsmartcard-vpcd libpcsclite-dev swig gcc python3-dev xvfb xauth
          poppler-utils opensc postgresql libegl1 libxkbcommon0 libgl1 libfontconfig1 libdbus-1-3
          libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-image0
          libxcb-render-util0 libxkbcommon-x11-0 libxcb-xinerama0 libxcb-randr0 libxcb-xkb1
          python3.11-venv dpkg-dev binutils debootstrap iproute2 dosfstools)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "Installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
