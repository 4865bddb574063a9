"""HTTP: the ASGI app serving the output folder and the subscription handlers beside it."""
