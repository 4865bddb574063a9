"""One module per schema revision, oldest first; ``docs/reliability.md`` says how to add one."""
