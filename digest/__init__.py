"""Newspaper pages in, Atom feeds, an HTML site and a daily email digest out."""

__version__ = "0.1.0"
