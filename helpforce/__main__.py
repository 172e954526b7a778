"""``python -m helpforce``: the same as the ``helpforce`` command."""

from helpforce.cli import main

if __name__ == "__main__":
    main()
