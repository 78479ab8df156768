"""Greenlight's command-line client: the release gate, runs, versions and reports from
any CI step, with documented exit codes (see `greenlight --help`)."""
