"""Models of the servicelevels app."""
