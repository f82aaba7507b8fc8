"""The backend web service (port 8000): health, department API; consoles and
the mini-program API join it later."""
