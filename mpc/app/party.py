"""Entry point of one party process in a real run (``python -m mpc.app.party``); see :mod:`mpc.app.launch`."""

from mpc.app.launch import party_main

if __name__ == "__main__":
    party_main()
