"""Helpers shared by the tests and by bench/, so that neither keeps a copy of the other's."""
