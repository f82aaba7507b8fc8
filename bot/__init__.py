"""Backend of the 一件事一次办 assistant: knowledge base, services and CLI."""
