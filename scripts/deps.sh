#!/usr/bin/env bash
# Installs the Debian packages itscale needs, only those that are missing.
set -euo pipefail

ITS_PACKAGES=(cmake make gcc g++ pkg-config libopenblas-dev libcjson-dev libcmocka-dev
              libmicrohttpd-dev prometheus haproxy curl zlib1g-dev libpng-dev dataset-fashion-mnist
              librsvg2-bin libxml2-utils valgrind clang libclang-rt-14-dev
              python3 python3-venv python3-pip python3-setuptools python3-cffi python3-numpy
              python3-pytest python3-torch python3-matplotlib binutils)

its_missing_packages() {
    local p
    for p in "${ITS_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
    done
}

its_ensure_packages() {
    local missing
    missing=$(its_missing_packages | tr '\n' ' ')
    if [ -n "${missing// /}" ]; then
        echo "itscale: installing missing packages: $missing" >&2
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >&2
    fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    its_ensure_packages
fi
