"""XAPI knowledge: the session layer (``session``) and pool operations (``pool``)."""
