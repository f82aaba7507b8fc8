"""Applications: from a chosen bundle to a submitted, tracked and rated application."""
