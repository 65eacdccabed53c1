"""Command groups of the `dealbooks` CLI, registered in ``dealbooks.cli``."""
