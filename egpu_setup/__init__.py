"""egpu-setup: provision NVIDIA eGPU deep-learning stacks on macOS High Sierra with Ansible."""

__version__ = "0.1.0"
