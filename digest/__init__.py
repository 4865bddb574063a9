"""Newspaper pages in, Atom feeds, an HTML site and a daily email digest out."""

__version__ = "0.2.0.dev0"  # PEP 440; CHANGELOG.md says what each release changed and how to upgrade
