"""Entry point of one party process in a real run (``python -m mpc.party``); see :mod:`mpc.launch`."""

from .launch import party_main

if __name__ == "__main__":
    party_main()
