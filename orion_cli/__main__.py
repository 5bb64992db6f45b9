"""Allow ``python -m orion_cli`` (tab completion only works for the ``orion`` script)."""

from orion_cli.cli.entry import main

if __name__ == "__main__":
    main()
