"""Circulars (通报): drafting, approval, publishing."""
