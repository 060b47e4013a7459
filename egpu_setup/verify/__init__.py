"""The GPU verification suite behind `egpu-setup verify`.

Runs on the machine itself (a Mac with the eGPU, a Linux box with an NVIDIA GPU, or a rehearsal Mac) and as the
gpu_verify role's payload, so every module here imports only the standard library at module scope; pynvml,
mxnet and rich are imported where they are used. `run_suite` (in `suite`) runs the checks against a backend
(`backend.SystemBackend` is the real machine; tests pass a recorded one) and returns a `report.Report`.
"""
