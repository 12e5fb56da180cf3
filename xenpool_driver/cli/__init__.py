"""The ``xenpool`` operator command."""
