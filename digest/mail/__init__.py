"""Emails: composing digests and confirmations, signing their links, sending, delivery and bounces."""
