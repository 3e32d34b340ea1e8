"""`python -m voting`: the same CLI as the `voting` script."""

from voting.cli import main

if __name__ == "__main__":  # a forked function imports this module as __mp_main__
    raise SystemExit(main())
