"""Allow ``python -m orion_cli`` (tab completion only works for the ``orion`` script)."""

from orion_cli.cli.app import main

if __name__ == "__main__":
    main()
