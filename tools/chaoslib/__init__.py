"""The randomized crash campaign behind ``tools/chaos.py``."""
