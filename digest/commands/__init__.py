"""The commands of ``digest``, one module per kind of work; ``digest.cli`` parses and dispatches."""
