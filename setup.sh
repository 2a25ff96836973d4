#!/usr/bin/env bash
# Installs the Debian packages kvsim builds against. Idempotent; needs root (or sudo).
# CUDA is not installed here: the calibration targets build only where nvcc already exists.
set -euo pipefail
pkgs=(build-essential cmake ninja-build git
      libboost-graph-dev libboost-program-options-dev
      libeigen3-dev libyaml-cpp-dev nlohmann-json3-dev libgtest-dev libgmock-dev
      libboost-mpi-dev openmpi-bin python3-matplotlib
      python3)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup: all packages present"
