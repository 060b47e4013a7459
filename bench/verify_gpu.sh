#!/usr/bin/env bash
# Run the whole `egpu-setup verify` suite on a machine with an NVIDIA GPU and print its figures: versions,
# pinned copy bandwidth against the link's theoretical rate, SGEMM GFLOPS against the FP32 peak.
#
# Usage: bench/verify_gpu.sh [extra verify options, e.g. --quick or --profile default]
#
# Needs: a Python 3.9+ (python3, or $EGPU_VERIFY_PYTHON), the NVIDIA driver (libcuda.so.1), a CUDA runtime and
# cuBLAS (a toolkit under /usr/local/cuda*, or NVIDIA's pip wheels such as PyTorch installs: site-packages/
# nvidia/*/lib). Optional: pynvml / nvidia-ml-py (else the CUDA driver API and sysfs give the GPU and link facts),
# cuDNN, rich (else plain text), mxnet (else the MXNet checks skip, saying why). Installs nothing; runs the
# package from this checkout (PYTHONPATH), writes no file into it.
#
# Output: the report table, then the figures; the JSON report at $OUT/verify-gpu.json when $OUT is set (the
# device machine's result folder), else ${TMPDIR:-/tmp}/verify-gpu.json. Exit code: verify's (0 pass, 1 a check
# failed, 3 no GPU). Whole run bounded by $EGPU_VERIFY_TIMEOUT seconds (default 480) to fit a 10-minute slot.
set -u

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${EGPU_VERIFY_PYTHON:-python3}
limit=${EGPU_VERIFY_TIMEOUT:-480}
out_dir=${OUT:-${TMPDIR:-/tmp}}
report="$out_dir/verify-gpu.json"
mkdir -p "$out_dir"

section() { printf '\n== %s\n' "$*"; }

section "machine"
date -u +"%Y-%m-%dT%H:%M:%SZ"
uname -srm
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
    echo "error: $python is missing or older than 3.9; set EGPU_VERIFY_PYTHON" >&2
    exit 2
fi
"$python" -c 'import sys; print("python", sys.version.split()[0], sys.executable)'
if command -v nvidia-smi >/dev/null 2>&1; then
    timeout 30 nvidia-smi --query-gpu=name,driver_version,pcie.link.gen.max,pcie.link.width.max,clocks.max.sm,memory.total \
        --format=csv 2>&1 | sed 's/^/  /'
else
    echo "  nvidia-smi: not on PATH"
fi
# find_spec, not import: importing torch or mxnet takes seconds and may initialise CUDA before verify does.
for module in pynvml rich mxnet torch yaml; do
    if "$python" -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('$module') is None)" \
        >/dev/null 2>&1; then echo "  $module: yes"; else echo "  $module: no"; fi
done

# NVIDIA's pip wheels (nvidia/<part>/lib, or nvidia/cu13/lib) of every Python on PATH: the verify code scans
# its own interpreter's site-packages; this adds those of the others (PyTorch may live in another Python).
lib_dirs=""
for py in "$python" python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    sites=$("$py" -c 'import site, sys
try:
    print("\n".join(site.getsitepackages() + [site.getusersitepackages()]))
except AttributeError:
    print("\n".join(p for p in sys.path if p.endswith("-packages")))' 2>/dev/null) || continue
    while IFS= read -r site_dir; do
        for lib in "$site_dir"/nvidia/*/lib; do
            [ -d "$lib" ] && case ":$lib_dirs:" in *":$lib:"*) ;; *) lib_dirs="${lib_dirs:+$lib_dirs:}$lib" ;; esac
        done
    done <<<"$sites"
done
export EGPU_VERIFY_LIBRARY_PATH="${EGPU_VERIFY_LIBRARY_PATH:+$EGPU_VERIFY_LIBRARY_PATH:}$lib_dirs"
echo "  wheel library dirs: ${lib_dirs:-none}"
ls -d /usr/local/cuda*/ 2>/dev/null | sed 's/^/  toolkit: /'

section "verify"
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
# Unbuffered: if the time limit kills verify, the checks it finished are still in the output.
export PYTHONUNBUFFERED=1
unset EGPU_REHEARSAL
started=$(date +%s)
timeout --kill-after=10 "$limit" "$python" -m egpu_setup.verify --json "$report" "$@"
code=$?
echo "verify exit code: $code ($(($(date +%s) - started)) s)"
if [ "$code" -eq 124 ] || [ "$code" -eq 137 ]; then
    echo "error: verify did not finish in $limit s" >&2
fi

section "figures"
if [ -s "$report" ]; then
    "$python" - "$report" <<'PY'
import json
import sys

doc = json.load(open(sys.argv[1]))
checks = {c["name"]: c for c in doc["checks"]}


def m(name, key, default="-"):
    return checks.get(name, {}).get("measurements", {}).get(key, default)


for device in doc["devices"]:
    print(f"gpu:        {device['name']} (compute {device['compute_capability']}, {device.get('memory_gib', '?')} GiB)")
print(f"driver:     {m('gpu.present', 'driver_version')}; supports CUDA {m('cuda.driver', 'supports_cuda')}")
print(f"runtime:    CUDA {m('cuda.runtime', 'version')} ({m('cuda.runtime', 'library')})")
print(f"cuDNN:      {m('cudnn', 'version')} ({m('cudnn', 'library')})")
print(f"link:       {m('link.bandwidth', 'link')}, theoretical {m('link.bandwidth', 'theoretical_gbps')} GB/s per direction")
print(f"bandwidth:  host to device {m('link.bandwidth', 'h2d_gbps')} GB/s, device to host {m('link.bandwidth', 'd2h_gbps')} GB/s"
      f" ({m('link.bandwidth', 'size_mib')} MiB x {m('link.bandwidth', 'repeat')}, pinned)")
print(f"SGEMM:      {m('gpu.compute', 'gflops')} GFLOPS of {m('gpu.compute', 'peak_gflops')} peak"
      f" ({m('gpu.compute', 'peak_source')}), n={m('gpu.compute', 'n')}, ratio {m('gpu.compute', 'ratio')}")
print(f"cuBLAS:     {m('gpu.compute', 'library')}")
for c in doc["checks"]:
    print(f"  {c['name']:<16} {c['status']:<4} {c['duration_s']:>6.2f} s  {c['reason']}")
s = doc["summary"]
print(f"outcome:    {s['outcome']} ({s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped)")
PY
    echo "report: $report"
else
    echo "no report was written ($report)"
fi
exit "$code"
