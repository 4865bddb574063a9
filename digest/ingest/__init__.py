"""Source folder → store: scanning and watching the folder, dating pages, keeping articles' identities."""
