"""The Greenlight GPU telemetry agent. Standard library and nvidia-ml-py only: no
Django. Run it with `python -m telemetry.agent --help`."""

AGENT_VERSION = "1.0"
