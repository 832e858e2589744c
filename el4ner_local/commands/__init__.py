"""The commands of the CLI, one module per command or command group; cli.py mounts them. Each module
imports only Typer and small modules at start-up: the models, the index and the interface are
imported inside the commands."""
