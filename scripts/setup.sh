#!/usr/bin/env bash
# Installs shmpool's build and test dependencies from Debian 12's packages when missing.
# Safe to run again: it only calls apt-get when a package is absent.
set -euo pipefail

PACKAGES=(
  g++ cmake make pkg-config          # the build
  libboost-dev                       # Boost.Interprocess (segments) and Boost.Asio (event loop)
  libboost-program-options-dev       # command-line flags of shmpoold and shmpool
  nlohmann-json3-dev                 # the JSON protocol
  catch2                             # unit tests
  libopenblas-serial-dev             # dense kernels: single-threaded BLAS, one per worker
  libsystemd-dev                     # sd_notify (Type=notify) and socket activation
  systemd                            # tests: systemd-analyze verify, systemd-socket-activate
  python3 python3-numpy python3-scipy python3-pytest   # integration tests' references and runner
  procps                             # ps/pgrep for leak checks
  clang libclang-rt-14-dev           # libFuzzer targets (scripts/fuzz.sh)
  util-linux                         # setpriv: the security tests run a client as nobody
  python3-matplotlib python3-joblib python3-sklearn python3-distributed  # benchmarks: plots and baselines
  libopenmpi-dev openmpi-bin         # shmpool-mpi (mpi/): the kernels across MPI ranks and nodes
  libpython3.11-dev python3-cloudpickle   # users' Python functions: CPython embedded in the workers, code shipped by the client
  python3-tqdm                       # Job.result(progress=True)'s bar (optional for the Python client)
)

missing=()
for p in "${PACKAGES[@]}"; do
  [[ "$p" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: dependencies present"
