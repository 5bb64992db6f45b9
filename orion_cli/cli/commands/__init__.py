"""One module per command or command group; each command parses, calls one service, renders."""
